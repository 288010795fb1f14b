package components_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/mockrun"
)

func TestNamespace(t *testing.T) {
	for _, tt := range []struct {
		level components.PodSecurityLevel
		want  string
	}{{"", "restricted"}, {components.PodSecurityBaseline, "baseline"}} {
		c := capture(t, func(ctx *pulumi.Context) error {
			_, err := components.NewNamespace(ctx, "shop", components.NamespaceArgs{Name: "shop", PodSecurity: tt.level, Labels: map[string]string{"team": "web"}})
			return err
		})
		c.checkParenting("cirkelline:components:Namespace")
		var ns corev1.Namespace
		c.mustGet("kubernetes:core/v1:Namespace", "shop", &ns)
		if ns.Labels["pod-security.kubernetes.io/enforce"] != tt.want || ns.Labels["pod-security.kubernetes.io/warn"] != "restricted" || ns.Labels["team"] != "web" {
			t.Errorf("labels %v, want enforce=%s", ns.Labels, tt.want)
		}
	}
	for _, gate := range []bool{false, true} {
		c := capture(t, func(ctx *pulumi.Context) error {
			_, err := components.NewNamespace(ctx, "shop", components.NamespaceArgs{Name: "shop", PodReadinessGate: gate})
			return err
		})
		var ns corev1.Namespace
		c.mustGet("kubernetes:core/v1:Namespace", "shop", &ns)
		want := map[string]string{
			"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/warn": "restricted",
			"app.kubernetes.io/name": "shop", "app.kubernetes.io/managed-by": "pulumi",
		}
		if gate {
			// AWS Load Balancer Controller, deploy/pod_readiness_gate.
			want["elbv2.k8s.aws/pod-readiness-gate-inject"] = "enabled"
		}
		if !reflect.DeepEqual(ns.Labels, want) {
			t.Errorf("readiness gate %v: labels %v, want %v", gate, ns.Labels, want)
		}
	}
	err := components.NamespaceArgs{Name: "Shop", PodSecurity: "strict"}.Validate("namespace")
	for _, want := range []string{`namespace.name ("Shop")`, `namespace.podSecurity ("strict"): is not a valid choice`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestServiceIdentity(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*components.ServiceIdentityArgs)
		// noRole: nothing to grant registers no Role and no RoleBinding.
		noRole bool
		check  func(*testing.T, corev1.ServiceAccount, rbacv1.Role, rbacv1.RoleBinding)
	}{
		{"least privilege by default: no token, no Role", func(*components.ServiceIdentityArgs) {}, true, func(t *testing.T, sa corev1.ServiceAccount, _ rbacv1.Role, _ rbacv1.RoleBinding) {
			if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
				t.Error("automountServiceAccountToken must be false")
			}
			if sa.Annotations[components.IRSAAnnotation] != "" {
				t.Errorf("annotations %v, want none", sa.Annotations)
			}
		}},
		{"reads only its own config", func(a *components.ServiceIdentityArgs) {
			a.ReadableConfigMaps, a.ReadableSecrets = []string{"shop-config"}, []string{"shop-secrets"}
		}, false, func(t *testing.T, _ corev1.ServiceAccount, r rbacv1.Role, rb rbacv1.RoleBinding) {
			if rb.RoleRef.Name != "shop" || rb.Subjects[0].Name != "shop" || rb.Subjects[0].Namespace != "shop" {
				t.Errorf("binding %+v", rb)
			}
			got := fmt.Sprint(r.Rules)
			for _, want := range []string{"[get] [] [configmaps] [shop-config]", "[get] [] [secrets] [shop-secrets]"} {
				if !strings.Contains(got, want) {
					t.Errorf("rules %s lack %s", got, want)
				}
			}
		}},
		{"irsa and token", func(a *components.ServiceIdentityArgs) {
			a.IAMRoleARN, a.AutomountToken = "arn:aws:iam::123456789012:role/shop", true
		}, true, func(t *testing.T, sa corev1.ServiceAccount, _ rbacv1.Role, _ rbacv1.RoleBinding) {
			if sa.Annotations[components.IRSAAnnotation] != "arn:aws:iam::123456789012:role/shop" || !*sa.AutomountServiceAccountToken {
				t.Errorf("sa %+v", sa)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := components.ServiceIdentityArgs{Name: "shop", Namespace: pulumi.String("shop"), PartOf: "shop"}
			tt.mutate(&args)
			c := capture(t, func(ctx *pulumi.Context) error {
				_, err := components.NewServiceIdentity(ctx, "shop", args)
				return err
			})
			c.checkParenting("cirkelline:components:ServiceIdentity")
			var (
				sa corev1.ServiceAccount
				r  rbacv1.Role
				rb rbacv1.RoleBinding
			)
			c.mustGet("kubernetes:core/v1:ServiceAccount", "shop", &sa)
			hasRole := c.get("kubernetes:rbac.authorization.k8s.io/v1:Role", "shop", &r)
			hasBinding := c.get("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "shop", &rb)
			if hasRole == tt.noRole || hasBinding == tt.noRole {
				t.Fatalf("Role registered %v, RoleBinding %v; want %v", hasRole, hasBinding, !tt.noRole)
			}
			tt.check(t, sa, r, rb)
		})
	}
}

// TestSecretChecksum: the secret checksum moves with any value, depends on
// the key, and is not the unkeyed digest of the values, which anyone who
// reads pods could check guesses against.
func TestSecretChecksum(t *testing.T) {
	data := map[string]string{"DATABASE_URL": "postgres://x", "JWT_SECRET_KEY": "jwt"}
	base := components.SecretChecksum("key-1", data)
	rotated := map[string]string{"DATABASE_URL": "postgres://y", "JWT_SECRET_KEY": "jwt"}
	for name, other := range map[string]string{
		"a value rotated":     components.SecretChecksum("key-1", rotated),
		"another key":         components.SecretChecksum("key-2", data),
		"the unkeyed digest":  components.Checksum(data),
		"a key moved to data": components.SecretChecksum("key-1", map[string]string{"DATABASE_URL": "postgres://x", "JWT_SECRET_KEY": "jwt", "": ""}),
	} {
		if other == base {
			t.Errorf("%s gives the same checksum %s", name, base)
		}
	}
	if components.SecretChecksum("key-1", map[string]string{"JWT_SECRET_KEY": "jwt", "DATABASE_URL": "postgres://x"}) != base {
		t.Errorf("the checksum depends on map order")
	}
}

func TestAppConfigChecksumRollsPods(t *testing.T) {
	checksum := func(settings map[string]string) string {
		var got string
		c := capture(t, func(ctx *pulumi.Context) error {
			app, err := components.NewAppConfig(ctx, "shop", components.AppConfigArgs{
				ConfigMapName: "shop-config", SecretName: "shop-secrets", Namespace: pulumi.String("shop"), PartOf: "shop",
				Settings: settings, Secrets: map[string]pulumi.StringInput{"DATABASE_URL": pulumi.String("postgres://x")},
				ChecksumKey: pulumi.String("k"),
			})
			if err != nil {
				return err
			}
			// Hand the annotations to a pod, as workloads/ does, and read them back.
			args := baseWebService()
			args.PodAnnotations = app.PodAnnotations
			_, err = components.NewWebService(ctx, "api", args)
			return err
		})
		var cm corev1.ConfigMap
		c.mustGet("kubernetes:core/v1:ConfigMap", "shop-config", &cm)
		var sec corev1.Secret
		c.mustGet("kubernetes:core/v1:Secret", "shop-secrets", &sec)
		if sec.StringData["DATABASE_URL"] != mockrun.SecretPlaceholder {
			t.Errorf("secret data must stay secret, rendered %q", sec.StringData["DATABASE_URL"])
		}
		var d appsv1.Deployment
		c.mustGet(deploymentType, "api", &d)
		ann := d.Spec.Template.Annotations
		if ann[components.SecretChecksumAnnotation] != mockrun.SecretPlaceholder {
			t.Errorf("the secret checksum must itself be secret, got %q", ann[components.SecretChecksumAnnotation])
		}
		got = ann[components.ConfigChecksumAnnotation]
		if got != components.Checksum(settings) {
			t.Errorf("config checksum %q, want %q", got, components.Checksum(settings))
		}
		return got
	}
	a := checksum(map[string]string{"LOG_LEVEL": "INFO"})
	b := checksum(map[string]string{"LOG_LEVEL": "DEBUG"})
	if a == b {
		t.Error("a settings change must change the pod template")
	}
	if components.Checksum(map[string]string{"a": "b=c"}) == components.Checksum(map[string]string{"a=b": "c"}) {
		t.Error("checksum must not be ambiguous across key/value boundaries")
	}
}

func TestAppConfigValidation(t *testing.T) {
	err := components.AppConfigArgs{
		ConfigMapName: "cfg", SecretName: "sec",
		Settings: map[string]string{"1BAD": "x", "DUP": "a"},
		Secrets:  map[string]pulumi.StringInput{"DUP": pulumi.String("b")},
	}.Validate("app")
	for _, want := range []string{`app.settings.1BAD ("1BAD"): is not a valid environment variable name`, `app.secretEnv.DUP: is also a plain setting`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func baseIngress() components.AlbIngressArgs {
	return components.AlbIngressArgs{
		Name: "shop", Namespace: pulumi.String("shop"), PartOf: "shop",
		Routes: []components.IngressRoute{{Path: "/", Service: "client"}, {Path: "/api", Service: "server"}},
		Backends: map[string]components.IngressBackend{
			"client": {ServiceName: pulumi.String("client"), Port: 8080},
			"server": {ServiceName: pulumi.String("server"), Port: 3000},
		},
	}
}

func TestAlbIngress(t *testing.T) {
	const p = "alb.ingress.kubernetes.io/"
	tests := []struct {
		name   string
		mutate func(*components.AlbIngressArgs)
		check  func(*testing.T, networkingv1.Ingress)
	}{
		{"http only without a certificate", func(*components.AlbIngressArgs) {}, func(t *testing.T, ing networkingv1.Ingress) {
			a := ing.Annotations
			if a[p+"listen-ports"] != `[{"HTTP":80}]` || a[p+"ssl-redirect"] != "" || a[p+"target-type"] != "ip" || a[p+"scheme"] != "internet-facing" {
				t.Errorf("annotations %v", a)
			}
			if *ing.Spec.IngressClassName != "alb" || len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "" {
				t.Errorf("spec %+v", ing.Spec)
			}
			paths := ing.Spec.Rules[0].HTTP.Paths
			if paths[0].Path != "/api" || paths[0].Backend.Service.Name != "server" || paths[0].Backend.Service.Port.Number != 3000 || paths[1].Path != "/" {
				t.Errorf("the most specific path must come first: %+v", paths)
			}
		}},
		{"health check: only 200 is healthy, no deletion protection or logs by default", func(*components.AlbIngressArgs) {}, func(t *testing.T, ing networkingv1.Ingress) {
			a := ing.Annotations
			if a[p+"success-codes"] != "200" || a[p+"load-balancer-attributes"] != "idle_timeout.timeout_seconds=60,routing.http.drop_invalid_header_fields.enabled=true,deletion_protection.enabled=false" {
				t.Errorf("success codes %q, attributes %q", a[p+"success-codes"], a[p+"load-balancer-attributes"])
			}
		}},
		{"deletion protection and access logs", func(a *components.AlbIngressArgs) {
			a.DeletionProtection = true
			a.AccessLogs = &components.AlbAccessLogs{Bucket: "shop-alb-logs", Prefix: "prod"}
			a.SuccessCodes = "200-299"
		}, func(t *testing.T, ing networkingv1.Ingress) {
			a := ing.Annotations
			want := "idle_timeout.timeout_seconds=60,routing.http.drop_invalid_header_fields.enabled=true,deletion_protection.enabled=true," +
				"access_logs.s3.enabled=true,access_logs.s3.bucket=shop-alb-logs,access_logs.s3.prefix=prod"
			if a[p+"load-balancer-attributes"] != want || a[p+"success-codes"] != "200-299" {
				t.Errorf("attributes %q, success codes %q; want %q and 200-299", a[p+"load-balancer-attributes"], a[p+"success-codes"], want)
			}
		}},
		{"await skipped", func(a *components.AlbIngressArgs) { a.SkipAwait = true }, func(t *testing.T, ing networkingv1.Ingress) {
			if ing.Annotations["pulumi.com/skipAwait"] != "true" {
				t.Errorf("annotations %v", ing.Annotations)
			}
		}},
		{"https with certificate and WAF", func(a *components.AlbIngressArgs) {
			a.CertificateARN = "arn:aws:acm:eu-north-1:123456789012:certificate/abc-1"
			a.WAFv2ACLARN = "arn:aws:wafv2:eu-north-1:123456789012:regional/webacl/shop/abc-1"
			a.Scheme = components.AlbInternal
			a.Hosts = []string{"shop.example.com", "www.shop.example.com"}
			a.ExtraAnnotations = map[string]string{p + "success-codes": "200"}
		}, func(t *testing.T, ing networkingv1.Ingress) {
			a := ing.Annotations
			want := map[string]string{
				p + "listen-ports": `[{"HTTP":80},{"HTTPS":443}]`, p + "ssl-redirect": "443",
				p + "certificate-arn": "arn:aws:acm:eu-north-1:123456789012:certificate/abc-1",
				p + "wafv2-acl-arn":   "arn:aws:wafv2:eu-north-1:123456789012:regional/webacl/shop/abc-1",
				p + "scheme":          "internal", p + "success-codes": "200",
			}
			for k, v := range want {
				if a[k] != v {
					t.Errorf("%s = %q, want %q", k, a[k], v)
				}
			}
			if len(ing.Spec.Rules) != 2 || ing.Spec.Rules[1].Host != "www.shop.example.com" {
				t.Errorf("rules %+v", ing.Spec.Rules)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := baseIngress()
			tt.mutate(&args)
			c := capture(t, func(ctx *pulumi.Context) error {
				_, err := components.NewAlbIngress(ctx, "shop", args)
				return err
			})
			c.checkParenting("cirkelline:components:AlbIngress")
			var ing networkingv1.Ingress
			c.mustGet("kubernetes:networking.k8s.io/v1:Ingress", "shop", &ing)
			tt.check(t, ing)
		})
	}
}

func TestAlbIngressValidation(t *testing.T) {
	args := baseIngress()
	args.Routes = append(args.Routes, components.IngressRoute{Path: "api", Service: "nope", PathType: "Regex"}, components.IngressRoute{Path: "/", Service: "client", PathType: components.PathPrefix})
	args.Hosts = []string{"Shop_Example"}
	args.Scheme = "public"
	err := args.Validate("ingress", []string{"client", "server"})
	for _, want := range []string{
		`ingress.scheme ("public")`, `ingress.hosts[0] ("Shop_Example")`, `ingress.routes[2].path ("api"): must be an absolute path`,
		`ingress.routes[2].pathType ("Regex"): is not a valid choice`, `ingress.routes[2].service ("nope"): is not a service of this stack; fix: use one of: client, server`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestNetworkPolicies(t *testing.T) {
	c := capture(t, func(ctx *pulumi.Context) error {
		_, err := components.NewNetworkPolicies(ctx, "shop", components.NetworkPoliciesArgs{
			Namespace: pulumi.String("shop"), PartOf: "shop",
			Services:     []components.PolicyService{{Name: "server", Port: 3000, UsesRedis: true}, {Name: "client", Port: 8080}},
			IngressCIDRs: []string{"10.0.0.0/16"},
			ExtraEgress:  []components.EgressRule{{Name: "postgres", CIDRs: []string{"10.1.0.0/16"}, Ports: []int32{5432}}},
		})
		return err
	})
	c.checkParenting("cirkelline:components:NetworkPolicies")
	const npType = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
	var deny, server, client networkingv1.NetworkPolicy
	c.mustGet(npType, "default-deny", &deny)
	if len(deny.Spec.PodSelector.MatchLabels) != 0 || len(deny.Spec.PolicyTypes) != 2 || deny.Spec.Ingress != nil || deny.Spec.Egress != nil {
		t.Errorf("default deny must select every pod and allow nothing: %+v", deny.Spec)
	}
	c.mustGet(npType, "server-allow", &server)
	c.mustGet(npType, "client-allow", &client)
	if server.Spec.Ingress[0].Ports[0].Port.IntValue() != 3000 || server.Spec.Ingress[0].From[0].IPBlock.CIDR != "10.0.0.0/16" {
		t.Errorf("server ingress %+v", server.Spec.Ingress)
	}
	egressPorts := func(np networkingv1.NetworkPolicy) string {
		var ports []string
		for _, e := range np.Spec.Egress {
			for _, p := range e.Ports {
				ports = append(ports, fmt.Sprintf("%s/%d", *p.Protocol, p.Port.IntValue()))
			}
		}
		return strings.Join(ports, " ")
	}
	if got := egressPorts(server); got != "UDP/53 TCP/53 TCP/443 TCP/6379 TCP/5432" {
		t.Errorf("server egress %s", got)
	}
	if got := egressPorts(client); got != "UDP/53 TCP/53 TCP/443 TCP/5432" {
		t.Errorf("client egress %s (no Redis)", got)
	}
}

func ExampleNewAlbIngress() {
	resources, err := mockrun.Capture("example", "dev", nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewAlbIngress(ctx, "shop", components.AlbIngressArgs{
			Name: "shop", Namespace: pulumi.String("shop"), PartOf: "shop",
			CertificateARN: "arn:aws:acm:eu-north-1:123456789012:certificate/abc-1",
			Routes:         []components.IngressRoute{{Path: "/", Service: "client"}, {Path: "/api", Service: "server"}},
			Backends: map[string]components.IngressBackend{
				"client": {ServiceName: pulumi.String("client"), Port: 8080},
				"server": {ServiceName: pulumi.String("server"), Port: 3000},
			},
		})
		return err
	})
	if err != nil {
		panic(err)
	}
	objs, _ := mockrun.Objects(resources)
	fmt.Print(string(objs[0].Body)[strings.Index(string(objs[0].Body), "spec:"):])
	// Output:
	// spec:
	//   ingressClassName: alb
	//   rules:
	//   - http:
	//       paths:
	//       - backend:
	//           service:
	//             name: server
	//             port:
	//               number: 3000
	//         path: /api
	//         pathType: Prefix
	//       - backend:
	//           service:
	//             name: client
	//             port:
	//               number: 8080
	//         path: /
	//         pathType: Prefix
}

func ExampleNewNamespace() {
	resources, _ := mockrun.Capture("example", "dev", nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewNamespace(ctx, "shop", components.NamespaceArgs{Name: "shop"})
		return err
	})
	objs, _ := mockrun.Objects(resources)
	fmt.Print(string(objs[0].Body))
	// Output:
	// apiVersion: v1
	// kind: Namespace
	// metadata:
	//   labels:
	//     app.kubernetes.io/managed-by: pulumi
	//     app.kubernetes.io/name: shop
	//     pod-security.kubernetes.io/audit: restricted
	//     pod-security.kubernetes.io/enforce: restricted
	//     pod-security.kubernetes.io/warn: restricted
	//   name: shop
}

func ExampleNewServiceIdentity() {
	resources, _ := mockrun.Capture("example", "dev", nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewServiceIdentity(ctx, "shop", components.ServiceIdentityArgs{
			Name: "shop", Namespace: pulumi.String("shop"), PartOf: "shop",
			ReadableSecrets: []string{"shop-secrets"},
		})
		return err
	})
	objs, _ := mockrun.Objects(resources)
	printFrom(objs, "Role", "shop", "rules:")
	// Output:
	// rules:
	// - apiGroups:
	//   - ""
	//   resourceNames:
	//   - shop-secrets
	//   resources:
	//   - secrets
	//   verbs:
	//   - get
}

func ExampleNewAppConfig() {
	resources, _ := mockrun.Capture("example", "dev", nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewAppConfig(ctx, "shop", components.AppConfigArgs{
			ConfigMapName: "shop-config", SecretName: "shop-secrets", Namespace: pulumi.String("shop"), PartOf: "shop",
			Settings:    map[string]string{"LOG_LEVEL": "INFO"},
			Secrets:     map[string]pulumi.StringInput{"DATABASE_URL": pulumi.String("postgres://user:pw@db/shop")},
			ChecksumKey: pulumi.ToSecret(pulumi.String("stack-secret-key")).(pulumi.StringOutput),
		})
		return err
	})
	objs, _ := mockrun.Objects(resources)
	body := string(objs[1].Body)
	fmt.Print(body[strings.Index(body, "stringData:"):])
	// Output:
	// stringData:
	//   DATABASE_URL: '[secret]'
	// type: Opaque
}

func ExampleNewNetworkPolicies() {
	resources, _ := mockrun.Capture("example", "dev", nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewNetworkPolicies(ctx, "shop", components.NetworkPoliciesArgs{
			Namespace: pulumi.String("shop"), PartOf: "shop",
			Services: []components.PolicyService{{Name: "server", Port: 3000, UsesRedis: true}},
		})
		return err
	})
	objs, _ := mockrun.Objects(resources)
	printFrom(objs, "NetworkPolicy", "server-allow", "spec:")
	// Output:
	// spec:
	//   egress:
	//   - ports:
	//     - port: 53
	//       protocol: UDP
	//     - port: 53
	//       protocol: TCP
	//     to:
	//     - namespaceSelector:
	//         matchLabels:
	//           kubernetes.io/metadata.name: kube-system
	//       podSelector:
	//         matchLabels:
	//           k8s-app: kube-dns
	//   - ports:
	//     - port: 443
	//       protocol: TCP
	//     to:
	//     - ipBlock:
	//         cidr: 0.0.0.0/0
	//   - ports:
	//     - port: 6379
	//       protocol: TCP
	//     to:
	//     - ipBlock:
	//         cidr: 0.0.0.0/0
	//   ingress:
	//   - ports:
	//     - port: 3000
	//       protocol: TCP
	//   podSelector:
	//     matchLabels:
	//       app.kubernetes.io/instance: shop-server
	//       app.kubernetes.io/name: server
	//       app.kubernetes.io/part-of: shop
	//   policyTypes:
	//   - Ingress
	//   - Egress
}

// printFrom prints the named object's YAML from the line starting with key.
func printFrom(objs []mockrun.Object, kind, name, key string) {
	for _, o := range objs {
		if o.Kind == kind && o.Name == name {
			body := string(o.Body)
			fmt.Print(body[strings.Index(body, key):])
		}
	}
}
