package components

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/internal/validate"
)

// AlbScheme is where the load balancer is reachable from.
type AlbScheme string

// The AWS Load Balancer Controller's schemes.
const (
	AlbInternetFacing AlbScheme = "internet-facing"
	AlbInternal       AlbScheme = "internal"
)

// PathType is an Ingress path match type.
type PathType string

// The Ingress path types the ALB controller supports.
const (
	PathPrefix PathType = "Prefix"
	PathExact  PathType = "Exact"
)

// IngressRoute sends one path to one Service.
type IngressRoute struct {
	// Path, e.g. "/api". Required, absolute.
	Path string `json:"path"`
	// PathType is "Prefix" or "Exact". Default "Prefix".
	PathType PathType `json:"pathType,omitempty"`
	// Service is the name of the stack service that receives the traffic. Required.
	Service string `json:"service"`
}

// IngressSpec is the ALB Ingress as a stack sets it: the stack file's
// "ingress" block embeds it (the json tags are its keys), and
// AlbIngressArgs adds what the composition wires. Zero values mean the
// default (WithDefaults).
type IngressSpec struct {
	// Name of the Ingress. Required (a stack defaults it to its namespace).
	Name string `json:"name,omitempty"`
	// Scheme of the load balancer. Default "internet-facing".
	Scheme AlbScheme `json:"scheme,omitempty"`
	// CertificateARN of the ACM certificate. When set the ALB listens on 80
	// and 443 and redirects HTTP to HTTPS; when empty it listens on 80 only.
	CertificateARN string `json:"certificateArn,omitempty"`
	// GroupName is refused (see Validate): a group named by annotation is
	// open to every namespace. Default: none.
	GroupName string `json:"groupName,omitempty"`
	// WAFv2ACLARN attaches a WAF web ACL. Default: none.
	WAFv2ACLARN string `json:"wafAclArn,omitempty"`
	// HealthCheckPath is the target group health check path. Services carry
	// their own, which wins. Default DefaultHealthPath ("/health").
	HealthCheckPath string `json:"healthCheckPath,omitempty"`
	// SSLPolicy for the HTTPS listener. Default DefaultSSLPolicy.
	SSLPolicy string `json:"sslPolicy,omitempty"`
	// Hosts the rules match; empty matches any host.
	Hosts []string `json:"hosts,omitempty"`
	// Routes, matched longest path first (the ALB evaluates rules in order, so
	// "/api" must come before "/"). Required.
	Routes []IngressRoute `json:"routes,omitempty"`
	// Annotations are added last and win, for controller features not
	// modelled here.
	Annotations map[string]string `json:"annotations,omitempty"`
	// SkipAwait returns from `pulumi up` once the Ingress exists, instead of
	// waiting for the load balancer controller to give it an address (for
	// a cluster without the AWS Load Balancer Controller). Given up: a
	// missing controller or a refused certificate no longer fails the
	// deploy, and the ingressHost output may be empty. Default false.
	SkipAwait bool `json:"skipAwait,omitempty"`
	// DeletionProtection keeps AWS from deleting the ALB
	// (deletion_protection.enabled): a deleted Ingress, or a pulumi destroy,
	// leaves it in place until the protection is turned off. Default false
	// (a stack defaults it to true in production).
	DeletionProtection *bool `json:"deletionProtection,omitempty"`
	// AccessLogs, when set, has the ALB write its access logs to S3
	// (access_logs.s3.*; the bucket policy must let the region's ELB
	// account write). Default: none.
	AccessLogs *AlbAccessLogs `json:"accessLogs,omitempty"`
	// SuccessCodes are the HTTP codes the target health check accepts.
	// Default DefaultSuccessCodes ("200"): a redirect from the health path
	// is not healthy.
	SuccessCodes string `json:"successCodes,omitempty"`
}

// AlbIngressArgs configures an Ingress for the AWS Load Balancer Controller.
type AlbIngressArgs struct {
	IngressSpec
	// Namespace to create it in. Required.
	Namespace pulumi.StringInput
	// PartOf is the application label value. Required.
	PartOf string
	// Backends maps each route's Service to its Service name and port.
	Backends map[string]IngressBackend
}

// AlbAccessLogs is where the ALB writes its access logs.
type AlbAccessLogs struct {
	// Bucket is the S3 bucket's name. Required.
	Bucket string `json:"bucket"`
	// Prefix of the log objects in the bucket. Default: none.
	Prefix string `json:"prefix,omitempty"`
}

// IngressBackend is a Service the Ingress can route to.
type IngressBackend struct {
	ServiceName pulumi.StringInput
	Port        int32
}

// AlbIngress is an ALB-backed Ingress.
type AlbIngress struct {
	pulumi.ResourceState

	// Hostname is the ALB's DNS name once the controller has provisioned it.
	Hostname pulumi.StringOutput `pulumi:"hostname"`
}

var (
	acmARN   = regexp.MustCompile(`^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$`)
	wafARN   = regexp.MustCompile(`^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional/webacl/[\w-]+/[A-Za-z0-9-]+$`)
	hostname = regexp.MustCompile(`^(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,63}$`)
)

// DefaultSSLPolicy is the HTTPS listener's policy: TLS 1.3, with TLS 1.2
// for older clients.
const DefaultSSLPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"

// DefaultSuccessCodes are the health check's healthy codes.
const DefaultSuccessCodes = "200"

var (
	// s3Bucket is S3's bucket naming rule (3–63 characters, lower-case
	// letters, digits, dots and hyphens, starting and ending with a letter
	// or digit; AWS S3 User Guide, "General purpose bucket naming rules").
	s3Bucket = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	// successCodes is the controller's success-codes format: codes or
	// ranges, comma-separated ("200", "200,201", "200-299").
	successCodes = regexp.MustCompile(`^[1-5]\d\d(-[1-5]\d\d)?(,[1-5]\d\d(-[1-5]\d\d)?)*$`)
)

// WithDefaults fills every unset field with its documented default.
func (s IngressSpec) WithDefaults() IngressSpec {
	s.Scheme = cmp.Or(s.Scheme, AlbInternetFacing)
	s.HealthCheckPath = cmp.Or(s.HealthCheckPath, DefaultHealthPath)
	s.SSLPolicy = cmp.Or(s.SSLPolicy, DefaultSSLPolicy)
	s.SuccessCodes = cmp.Or(s.SuccessCodes, DefaultSuccessCodes)
	s.Routes = slices.Clone(s.Routes)
	for i := range s.Routes {
		s.Routes[i].PathType = cmp.Or(s.Routes[i].PathType, PathPrefix)
	}
	return s
}

// Validate reports every problem with the (defaulted) spec, with field
// paths under path; services are the names routes may point at.
func (a IngressSpec) Validate(path string, services []string) error {
	var errs validate.Errors
	validate.DNSLabel(&errs, validate.Join(path, "name"), a.Name, 63)
	validate.OneOf(&errs, validate.Join(path, "scheme"), a.Scheme, AlbInternetFacing, AlbInternal)
	if a.CertificateARN != "" && !acmARN.MatchString(a.CertificateARN) {
		errs.Add(validate.Join(path, "certificateArn"), a.CertificateARN, "is not an ACM certificate ARN", `use "arn:aws:acm:<region>:<12-digit account>:certificate/<id>"`)
	}
	if a.WAFv2ACLARN != "" && !wafARN.MatchString(a.WAFv2ACLARN) {
		errs.Add(validate.Join(path, "wafAclArn"), a.WAFv2ACLARN, "is not a regional WAFv2 web ACL ARN", `use "arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>"`)
	}
	// An IngressGroup joined by the group.name annotation is open to every
	// namespace: any Ingress in the cluster with the same name joins the
	// ALB and can add rules for this stack's hosts (issue 22). The AWS Load
	// Balancer Controller's remedy is an IngressClass whose IngressClassParams
	// set spec.group.name and a spec.namespaceSelector (its "IngressClass"
	// guide); nothing here shares an ALB, so the group is dropped instead:
	// each stack's one Ingress is a group of its own (the controller's
	// implicit group).
	if a.GroupName != "" {
		errs.Add(validate.Join(path, "groupName"), a.GroupName, "is refused: an ALB IngressGroup named by annotation lets an Ingress in any namespace join the ALB and add rules for this stack's hosts", "remove it: each stack's Ingress gets an ALB of its own")
	}
	if l := a.AccessLogs; l != nil {
		if !s3Bucket.MatchString(l.Bucket) {
			errs.Add(validate.Join(path, "accessLogs.bucket"), l.Bucket, "is not an S3 bucket name", "3–63 lower-case letters, digits, '.' or '-', e.g. \"acme-alb-logs\"")
		}
		// The ELB docs: the prefix cannot start with a slash or contain
		// "AWSLogs", which ELB adds itself.
		if strings.HasPrefix(l.Prefix, "/") || strings.Contains(l.Prefix, "AWSLogs") {
			errs.Add(validate.Join(path, "accessLogs.prefix"), l.Prefix, `must not start with "/" or contain "AWSLogs"`, `use e.g. "cirkelline/production"`)
		}
	}
	if !successCodes.MatchString(a.SuccessCodes) {
		errs.Add(validate.Join(path, "successCodes"), a.SuccessCodes, "is not a list of HTTP codes or ranges", `use e.g. "200" or "200-299"`)
	}
	if !strings.HasPrefix(a.HealthCheckPath, "/") {
		errs.Add(validate.Join(path, "healthCheckPath"), a.HealthCheckPath, "must be an absolute HTTP path", `use e.g. "/health"`)
	}
	for i, h := range a.Hosts {
		if !hostname.MatchString(h) {
			errs.Add(validate.Index(validate.Join(path, "hosts"), i), h, "is not a lower-case DNS host name", `use e.g. "api.cirkelline.com"`)
		}
	}
	if len(a.Routes) == 0 {
		errs.Add(validate.Join(path, "routes"), nil, "must route at least one path", `add e.g. {path: "/", service: "`+firstOr(services, "cirkelline-backend")+`"}, or disable the ingress`)
	}
	seen := map[string]int{}
	for i, r := range a.Routes {
		rp := validate.Index(validate.Join(path, "routes"), i)
		if !strings.HasPrefix(r.Path, "/") {
			errs.Add(validate.Join(rp, "path"), r.Path, "must be an absolute path", `use e.g. "/" or "/api"`)
		}
		validate.OneOf(&errs, validate.Join(rp, "pathType"), r.PathType, PathPrefix, PathExact)
		if !slices.Contains(services, r.Service) {
			errs.Add(validate.Join(rp, "service"), r.Service, "is not a service of this stack", "use one of: "+strings.Join(services, ", "))
		}
		key := string(r.PathType) + " " + r.Path
		if j, dup := seen[key]; dup {
			errs.Add(validate.Join(rp, "path"), r.Path, fmt.Sprintf("is routed twice (also routes[%d])", j), "remove one of the two routes")
		}
		seen[key] = i
	}
	validateAnnotations(&errs, validate.Join(path, "annotations"), a.Annotations)
	if v, ok := a.Annotations[AlbTargetGroupAttributesAnnotation]; ok {
		// Every web service's Service sets this annotation (its
		// deregistration delay), and a Service's wins over the Ingress's.
		errs.Add(validate.Key(validate.Join(path, "annotations"), AlbTargetGroupAttributesAnnotation), v,
			"would be ignored: each service's Service sets its own target group attributes (the deregistration delay), and the controller prefers the Service's",
			"remove it; set services[].shutdown.deregistrationDelaySeconds for the deregistration delay")
	}
	return errs.Err()
}

func firstOr(s []string, d string) string {
	if len(s) > 0 {
		return s[0]
	}
	return d
}

// loadBalancerAttributes is the load-balancer-attributes annotation (a
// stringMap, k1=v1,k2=v2; AWS Load Balancer Controller annotations docs,
// "Load Balancer Attributes", whose examples name deletion_protection.enabled
// and access_logs.s3.enabled/bucket/prefix). With an IngressGroup it is
// Exclusive: every Ingress of the group must carry the same value.
func loadBalancerAttributes(a AlbIngressArgs) string {
	attrs := []string{"idle_timeout.timeout_seconds=60", "routing.http.drop_invalid_header_fields.enabled=true",
		fmt.Sprintf("deletion_protection.enabled=%t", a.DeletionProtection != nil && *a.DeletionProtection)}
	if l := a.AccessLogs; l != nil {
		attrs = append(attrs, "access_logs.s3.enabled=true", "access_logs.s3.bucket="+l.Bucket)
		if l.Prefix != "" {
			attrs = append(attrs, "access_logs.s3.prefix="+l.Prefix)
		}
	}
	return strings.Join(attrs, ",")
}

// AlbAnnotations builds the AWS Load Balancer Controller annotations.
func AlbAnnotations(a AlbIngressArgs) map[string]string {
	const p = "alb.ingress.kubernetes.io/"
	ann := map[string]string{
		p + "scheme":                       string(a.Scheme),
		p + "target-type":                  "ip",
		p + "healthcheck-path":             a.HealthCheckPath,
		p + "healthcheck-protocol":         "HTTP",
		p + "success-codes":                a.SuccessCodes,
		p + "load-balancer-attributes":     loadBalancerAttributes(a),
		p + "target-group-attributes":      "deregistration_delay.timeout_seconds=30",
		p + "backend-protocol":             "HTTP",
		p + "healthcheck-interval-seconds": "15",
	}
	listen := []map[string]int{{"HTTP": 80}}
	if a.CertificateARN != "" {
		listen = append(listen, map[string]int{"HTTPS": 443})
		ann[p+"certificate-arn"] = a.CertificateARN
		ann[p+"ssl-redirect"] = "443"
		ann[p+"ssl-policy"] = a.SSLPolicy
	}
	lp, _ := json.Marshal(listen) // a slice of int maps always marshals
	ann[p+"listen-ports"] = string(lp)
	if a.WAFv2ACLARN != "" {
		ann[p+"wafv2-acl-arn"] = a.WAFv2ACLARN
	}
	if a.SkipAwait {
		// pulumi-kubernetes skips its await for objects with this
		// annotation (provider/pkg/await/await.go, SkipAwaitLogic).
		ann[SkipAwaitAnnotation] = "true"
	}
	return merged(ann, a.Annotations)
}

// SortedRoutes orders routes longest path first, Exact before Prefix on a
// tie, so the ALB's first-match evaluation picks the most specific rule.
func SortedRoutes(routes []IngressRoute) []IngressRoute {
	out := slices.Clone(routes)
	slices.SortStableFunc(out, func(a, b IngressRoute) int {
		if len(a.Path) != len(b.Path) {
			return len(b.Path) - len(a.Path)
		}
		return strings.Compare(string(a.PathType), string(b.PathType))
	})
	return out
}

// NewAlbIngress registers an AlbIngress component.
func NewAlbIngress(ctx *pulumi.Context, name string, args AlbIngressArgs, opts ...pulumi.ResourceOption) (*AlbIngress, error) {
	args.IngressSpec = args.WithDefaults()
	if err := args.Validate("ingress", sortedKeys(args.Backends)); err != nil {
		return nil, fmt.Errorf("ingress %s: %w", name, err)
	}
	comp := &AlbIngress{}
	if err := ctx.RegisterComponentResource("cirkelline:components:AlbIngress", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("register ingress %s: %w", name, err)
	}
	ing, err := networkingv1.NewIngress(ctx, name, buildAlbIngress(args), pulumi.Parent(comp))
	if err != nil {
		return nil, fmt.Errorf("ingress %s: %w", name, err)
	}
	comp.Hostname = ing.Status.ApplyT(func(s *networkingv1.IngressStatus) string {
		if s == nil || s.LoadBalancer == nil || len(s.LoadBalancer.Ingress) == 0 || s.LoadBalancer.Ingress[0].Hostname == nil {
			return ""
		}
		return *s.LoadBalancer.Ingress[0].Hostname
	}).(pulumi.StringOutput)
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{"hostname": comp.Hostname}); err != nil {
		return nil, fmt.Errorf("ingress %s outputs: %w", name, err)
	}
	return comp, nil
}

// buildAlbIngress builds the Ingress from defaulted, valid args; its routes
// go to a.Backends. NewAlbIngress only registers it.
func buildAlbIngress(a AlbIngressArgs) *networkingv1.IngressArgs {
	var paths networkingv1.HTTPIngressPathArray
	for _, r := range SortedRoutes(a.Routes) {
		b := a.Backends[r.Service]
		paths = append(paths, networkingv1.HTTPIngressPathArgs{
			Path:     pulumi.String(r.Path),
			PathType: pulumi.String(string(r.PathType)),
			Backend: networkingv1.IngressBackendArgs{Service: &networkingv1.IngressServiceBackendArgs{
				Name: b.ServiceName,
				Port: &networkingv1.ServiceBackendPortArgs{Number: pulumi.Int(int(b.Port))},
			}},
		})
	}
	rule := func(host string) networkingv1.IngressRuleArgs {
		r := networkingv1.IngressRuleArgs{Http: &networkingv1.HTTPIngressRuleValueArgs{Paths: paths}}
		if host != "" {
			r.Host = pulumi.String(host)
		}
		return r
	}
	var rules networkingv1.IngressRuleArray
	for _, h := range a.Hosts {
		rules = append(rules, rule(h))
	}
	if len(rules) == 0 {
		rules = append(rules, rule(""))
	}
	return &networkingv1.IngressArgs{
		Metadata: objectMeta(a.Name, a.Namespace, stringMap(Labels(a.PartOf, a.Name, "ingress")), stringMap(AlbAnnotations(a))),
		Spec:     &networkingv1.IngressSpecArgs{IngressClassName: pulumi.String("alb"), Rules: rules},
	}
}
