package components_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/mockrun"
	"github.com/cirkelline/infra/monitoring"
)

func baseNamespace() components.NamespaceArgs { return components.NamespaceArgs{Name: "shop"} }

type namespaceObjects struct{ namespace *corev1.Namespace }

func (o namespaceObjects) all() map[string]any { return keyed(o.namespace) }

// baseNamespaceObjects: Pod Security Standards restricted, enforced,
// audited and warned about.
func baseNamespaceObjects() namespaceObjects {
	return namespaceObjects{&corev1.Namespace{
		TypeMeta: typeMeta("v1", "Namespace"),
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{
			"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/warn": "restricted",
			"app.kubernetes.io/name": "shop", "app.kubernetes.io/managed-by": "pulumi",
		}},
	}}
}

func TestNamespace(t *testing.T) {
	testObjectRows(t, "cirkelline:components:Namespace", baseNamespace, baseNamespaceObjects, func(ctx *pulumi.Context, a components.NamespaceArgs) error {
		_, err := components.NewNamespace(ctx, "shop", a)
		return err
	}, []objectRow[components.NamespaceArgs, namespaceObjects]{
		{"defaults", func(*components.NamespaceArgs) {}, func(*namespaceObjects) {}},
		{"baseline enforced, restricted still audited and warned", func(a *components.NamespaceArgs) { a.PodSecurity = components.PodSecurityBaseline }, func(o *namespaceObjects) {
			o.namespace.Labels["pod-security.kubernetes.io/enforce"] = "baseline"
		}},
		{"extra labels", func(a *components.NamespaceArgs) { a.Labels = map[string]string{"team": "web"} }, func(o *namespaceObjects) {
			o.namespace.Labels["team"] = "web"
		}},
		// AWS Load Balancer Controller, deploy/pod_readiness_gate.
		{"pod readiness gate", func(a *components.NamespaceArgs) { a.PodReadinessGate = true }, func(o *namespaceObjects) {
			o.namespace.Labels["elbv2.k8s.aws/pod-readiness-gate-inject"] = "enabled"
		}},
	})
}

func TestNamespaceRefused(t *testing.T) {
	err := components.NamespaceArgs{Name: "Shop", PodSecurity: "strict"}.Validate("namespace")
	for _, want := range []string{`namespace.name ("Shop")`, `namespace.podSecurity ("strict"): is not a valid choice`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func baseServiceIdentity() components.ServiceIdentityArgs {
	return components.ServiceIdentityArgs{Name: "shop", Namespace: pulumi.String("shop"), PartOf: "shop"}
}

// identityObjects are a ServiceIdentity's objects; role and binding are
// nil when there is nothing to grant.
type identityObjects struct {
	account *corev1.ServiceAccount
	role    *rbacv1.Role
	binding *rbacv1.RoleBinding
}

func (o identityObjects) all() map[string]any { return keyed(o.account, o.role, o.binding) }

// baseIdentityObjects: least privilege, no API token and nothing to
// grant, so no Role.
func baseIdentityObjects() identityObjects {
	return identityObjects{account: &corev1.ServiceAccount{
		TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: identityMeta(),
		AutomountServiceAccountToken: ptr(false),
	}}
}

func identityMeta() metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: "shop", Namespace: "shop", Labels: map[string]string{
		"app.kubernetes.io/name": "shop", "app.kubernetes.io/instance": "shop-shop", "app.kubernetes.io/part-of": "shop",
		"app.kubernetes.io/component": "identity", "app.kubernetes.io/managed-by": "pulumi",
	}}
}

func TestServiceIdentity(t *testing.T) {
	// grant adds a Role of these rules, bound to the ServiceAccount.
	grant := func(o *identityObjects, rules ...rbacv1.PolicyRule) {
		o.role = &rbacv1.Role{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "Role"), ObjectMeta: identityMeta(), Rules: rules}
		o.binding = &rbacv1.RoleBinding{
			TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"), ObjectMeta: identityMeta(),
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "shop"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "shop", Namespace: "shop"}},
		}
	}
	testObjectRows(t, "cirkelline:components:ServiceIdentity", baseServiceIdentity, baseIdentityObjects, func(ctx *pulumi.Context, a components.ServiceIdentityArgs) error {
		_, err := components.NewServiceIdentity(ctx, "shop", a)
		return err
	}, []objectRow[components.ServiceIdentityArgs, identityObjects]{
		{"least privilege by default: no token, no Role", func(*components.ServiceIdentityArgs) {}, func(*identityObjects) {}},
		{"reads only its own config", func(a *components.ServiceIdentityArgs) {
			a.ReadableConfigMaps, a.ReadableSecrets = []string{"shop-config"}, []string{"shop-secrets"}
		}, func(o *identityObjects) {
			grant(o,
				rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"shop-config"}, Verbs: []string{"get"}},
				rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"shop-secrets"}, Verbs: []string{"get"}},
			)
		}},
		{"secrets only", func(a *components.ServiceIdentityArgs) { a.ReadableSecrets = []string{"shop-secrets"} }, func(o *identityObjects) {
			grant(o,
				rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"shop-secrets"}, Verbs: []string{"get"}},
			)
		}},
		{"irsa and token", func(a *components.ServiceIdentityArgs) {
			a.IAMRoleARN, a.AutomountToken = "arn:aws:iam::123456789012:role/shop", true
		}, func(o *identityObjects) {
			o.account.Annotations = map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/shop"}
			o.account.AutomountServiceAccountToken = ptr(true)
		}},
	})
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

func baseAppConfig() components.AppConfigArgs {
	return components.AppConfigArgs{
		ConfigMapName: "shop-config", SecretName: "shop-secrets", Namespace: pulumi.String("shop"), PartOf: "shop",
		Settings: map[string]string{"LOG_LEVEL": "INFO"}, Secrets: map[string]pulumi.StringInput{"DATABASE_URL": pulumi.String("postgres://x")},
		ChecksumKey: pulumi.String("k"),
	}
}

type appConfigObjects struct {
	configMap *corev1.ConfigMap
	secret    *corev1.Secret
}

func (o appConfigObjects) all() map[string]any { return keyed(o.configMap, o.secret) }

// baseAppConfigObjects: the settings in the ConfigMap, the secrets in the
// Secret, secret in state and in the rendered output.
func baseAppConfigObjects() appConfigObjects {
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: map[string]string{
			"app.kubernetes.io/name": "shop", "app.kubernetes.io/instance": "shop-shop", "app.kubernetes.io/part-of": "shop",
			"app.kubernetes.io/component": "config", "app.kubernetes.io/managed-by": "pulumi",
		}}
	}
	return appConfigObjects{
		configMap: &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: meta("shop-config"), Data: map[string]string{"LOG_LEVEL": "INFO"}},
		secret: &corev1.Secret{TypeMeta: typeMeta("v1", "Secret"), ObjectMeta: meta("shop-secrets"), Type: corev1.SecretTypeOpaque,
			StringData: map[string]string{"DATABASE_URL": mockrun.SecretPlaceholder}},
	}
}

func TestAppConfig(t *testing.T) {
	testObjectRows(t, "cirkelline:components:AppConfig", baseAppConfig, baseAppConfigObjects, func(ctx *pulumi.Context, a components.AppConfigArgs) error {
		_, err := components.NewAppConfig(ctx, "shop", a)
		return err
	}, []objectRow[components.AppConfigArgs, appConfigObjects]{
		{"defaults", func(*components.AppConfigArgs) {}, func(*appConfigObjects) {}},
		{"settings and secrets", func(a *components.AppConfigArgs) {
			a.Settings["WORKERS"] = "4"
			a.Secrets["JWT_SECRET_KEY"] = pulumi.String("jwt")
		}, func(o *appConfigObjects) {
			o.configMap.Data["WORKERS"] = "4"
			o.secret.StringData["JWT_SECRET_KEY"] = mockrun.SecretPlaceholder
		}},
		{"names", func(a *components.AppConfigArgs) { a.ConfigMapName, a.SecretName = "env", "env-secret" }, func(o *appConfigObjects) {
			o.configMap.Name, o.secret.Name = "env", "env-secret"
		}},
	})
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
		IngressSpec: components.IngressSpec{Name: "shop", Routes: []components.IngressRoute{{Path: "/", Service: "client"}, {Path: "/api", Service: "server"}}},
		Namespace:   pulumi.String("shop"), PartOf: "shop",
		Backends: map[string]components.IngressBackend{
			"client": {ServiceName: pulumi.String("client"), Port: 8080},
			"server": {ServiceName: pulumi.String("server"), Port: 3000},
		},
	}
}

type ingressObjects struct{ ingress *networkingv1.Ingress }

func (o ingressObjects) all() map[string]any { return keyed(o.ingress) }

// baseIngressObjects: an internet-facing ALB on HTTP only (no
// certificate), targets by pod IP, health checks where only 200 is
// healthy, no deletion protection or access logs, the most specific path
// first.
func baseIngressObjects() ingressObjects {
	const p = "alb.ingress.kubernetes.io/"
	paths := []networkingv1.HTTPIngressPath{
		{Path: "/api", PathType: ptr(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
			Name: "server", Port: networkingv1.ServiceBackendPort{Number: 3000},
		}}},
		{Path: "/", PathType: ptr(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
			Name: "client", Port: networkingv1.ServiceBackendPort{Number: 8080},
		}}},
	}
	return ingressObjects{&networkingv1.Ingress{
		TypeMeta: typeMeta("networking.k8s.io/v1", "Ingress"),
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "shop",
			Labels: map[string]string{
				"app.kubernetes.io/name": "shop", "app.kubernetes.io/instance": "shop-shop", "app.kubernetes.io/part-of": "shop",
				"app.kubernetes.io/component": "ingress", "app.kubernetes.io/managed-by": "pulumi",
			},
			Annotations: map[string]string{
				p + "scheme": "internet-facing", p + "target-type": "ip", p + "listen-ports": `[{"HTTP":80}]`, p + "backend-protocol": "HTTP",
				p + "healthcheck-path": "/health", p + "healthcheck-protocol": "HTTP", p + "healthcheck-interval-seconds": "15", p + "success-codes": "200",
				p + "load-balancer-attributes": "idle_timeout.timeout_seconds=60,routing.http.drop_invalid_header_fields.enabled=true,deletion_protection.enabled=false",
				p + "target-group-attributes":  "deregistration_delay.timeout_seconds=30",
			},
		},
		Spec: networkingv1.IngressSpec{IngressClassName: ptr("alb"), Rules: []networkingv1.IngressRule{
			{IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}},
		}},
	}}
}

func TestAlbIngress(t *testing.T) {
	const p = "alb.ingress.kubernetes.io/"
	testObjectRows(t, "cirkelline:components:AlbIngress", baseIngress, baseIngressObjects, func(ctx *pulumi.Context, a components.AlbIngressArgs) error {
		_, err := components.NewAlbIngress(ctx, "shop", a)
		return err
	}, []objectRow[components.AlbIngressArgs, ingressObjects]{
		{"defaults", func(*components.AlbIngressArgs) {}, func(*ingressObjects) {}},
		{"deletion protection, access logs, success codes", func(a *components.AlbIngressArgs) {
			a.DeletionProtection = ptr(true)
			a.AccessLogs = &components.AlbAccessLogs{Bucket: "shop-alb-logs", Prefix: "prod"}
			a.SuccessCodes = "200-299"
		}, func(o *ingressObjects) {
			o.ingress.Annotations[p+"load-balancer-attributes"] = "idle_timeout.timeout_seconds=60,routing.http.drop_invalid_header_fields.enabled=true,deletion_protection.enabled=true," +
				"access_logs.s3.enabled=true,access_logs.s3.bucket=shop-alb-logs,access_logs.s3.prefix=prod"
			o.ingress.Annotations[p+"success-codes"] = "200-299"
		}},
		{"await skipped", func(a *components.AlbIngressArgs) { a.SkipAwait = true }, func(o *ingressObjects) {
			o.ingress.Annotations["pulumi.com/skipAwait"] = "true"
		}},
		{"https with a certificate, WAF, internal, extra annotations win", func(a *components.AlbIngressArgs) {
			a.CertificateARN = "arn:aws:acm:eu-north-1:123456789012:certificate/abc-1"
			a.WAFv2ACLARN = "arn:aws:wafv2:eu-north-1:123456789012:regional/webacl/shop/abc-1"
			a.Scheme = components.AlbInternal
			a.Annotations = map[string]string{p + "success-codes": "200,204"}
		}, func(o *ingressObjects) {
			ann := o.ingress.Annotations
			ann[p+"listen-ports"] = `[{"HTTP":80},{"HTTPS":443}]`
			ann[p+"ssl-redirect"] = "443"
			ann[p+"ssl-policy"] = "ELBSecurityPolicy-TLS13-1-2-2021-06"
			ann[p+"certificate-arn"] = "arn:aws:acm:eu-north-1:123456789012:certificate/abc-1"
			ann[p+"wafv2-acl-arn"] = "arn:aws:wafv2:eu-north-1:123456789012:regional/webacl/shop/abc-1"
			ann[p+"scheme"] = "internal"
			ann[p+"success-codes"] = "200,204"
		}},
		{"hosts: one rule each", func(a *components.AlbIngressArgs) { a.Hosts = []string{"shop.example.com", "www.shop.example.com"} }, func(o *ingressObjects) {
			rule := o.ingress.Spec.Rules[0]
			o.ingress.Spec.Rules = []networkingv1.IngressRule{rule, rule}
			o.ingress.Spec.Rules[0].Host, o.ingress.Spec.Rules[1].Host = "shop.example.com", "www.shop.example.com"
		}},
		{"exact before prefix on a tie, longest first", func(a *components.AlbIngressArgs) {
			a.Routes = append(a.Routes, components.IngressRoute{Path: "/api", PathType: components.PathExact, Service: "client"},
				components.IngressRoute{Path: "/api/v2", Service: "server"})
		}, func(o *ingressObjects) {
			paths := &o.ingress.Spec.Rules[0].HTTP.Paths
			v2, exact := (*paths)[0], (*paths)[0]
			v2.Path = "/api/v2"
			exact.PathType = ptr(networkingv1.PathTypeExact)
			exact.Backend = (*paths)[1].Backend
			*paths = append([]networkingv1.HTTPIngressPath{v2, exact}, *paths...)
		}},
		{"health check path", func(a *components.AlbIngressArgs) { a.HealthCheckPath = "/healthz" }, func(o *ingressObjects) {
			o.ingress.Annotations[p+"healthcheck-path"] = "/healthz"
		}},
	})
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

func baseNetworkPolicies() components.NetworkPoliciesArgs {
	return components.NetworkPoliciesArgs{
		Namespace: pulumi.String("shop"), PartOf: "shop",
		Services: []components.PolicyService{{Name: "server", Port: 3000, UsesRedis: true}, {Name: "client", Port: 8080}},
	}
}

type policyObjects struct{ defaultDeny, server, client *networkingv1.NetworkPolicy }

func (o policyObjects) all() map[string]any {
	return keyed(o.defaultDeny, o.server, o.client)
}

func tcpPort(port int32) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(port))}
}

func cidrPeers(cidrs ...string) []networkingv1.NetworkPolicyPeer {
	var out []networkingv1.NetworkPolicyPeer
	for _, c := range cidrs {
		out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
	}
	return out
}

// basePolicyObjects: a default deny selecting every pod and allowing
// nothing, then per service its port open to anyone, and egress to the
// cluster's DNS, HTTPS anywhere and (the server) Redis anywhere on 6379.
func basePolicyObjects() policyObjects {
	policy := func(name string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{
			TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"),
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: map[string]string{
				"app.kubernetes.io/name": name, "app.kubernetes.io/instance": "shop-" + name, "app.kubernetes.io/part-of": "shop",
				"app.kubernetes.io/component": "network-policy", "app.kubernetes.io/managed-by": "pulumi",
			}},
			Spec: spec,
		}
	}
	both := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	dns := networkingv1.NetworkPolicyEgressRule{
		To: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
		}},
		Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr(corev1.ProtocolUDP), Port: ptr(intstr.FromInt32(53))}, tcpPort(53)},
	}
	https := networkingv1.NetworkPolicyEgressRule{To: cidrPeers("0.0.0.0/0"), Ports: []networkingv1.NetworkPolicyPort{tcpPort(443)}}
	allow := func(service string, port int32, egress ...networkingv1.NetworkPolicyEgressRule) *networkingv1.NetworkPolicy {
		return policy(service+"-allow", networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: components.SelectorLabels("shop", service)},
			PolicyTypes: both,
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{tcpPort(port)}}},
			Egress:      append([]networkingv1.NetworkPolicyEgressRule{dns, https}, egress...),
		})
	}
	return policyObjects{
		defaultDeny: policy("default-deny", networkingv1.NetworkPolicySpec{PolicyTypes: both}),
		server:      allow("server", 3000, networkingv1.NetworkPolicyEgressRule{To: cidrPeers("0.0.0.0/0"), Ports: []networkingv1.NetworkPolicyPort{tcpPort(6379)}}),
		client:      allow("client", 8080),
	}
}

func TestNetworkPolicies(t *testing.T) {
	services := func(o *policyObjects) []*networkingv1.NetworkPolicy {
		return []*networkingv1.NetworkPolicy{o.server, o.client}
	}
	testObjectRows(t, "cirkelline:components:NetworkPolicies", baseNetworkPolicies, basePolicyObjects, func(ctx *pulumi.Context, a components.NetworkPoliciesArgs) error {
		_, err := components.NewNetworkPolicies(ctx, "shop", a)
		return err
	}, []objectRow[components.NetworkPoliciesArgs, policyObjects]{
		{"defaults", func(*components.NetworkPoliciesArgs) {}, func(*policyObjects) {}},
		{"ingress from the ALB's subnets", func(a *components.NetworkPoliciesArgs) { a.IngressCIDRs = []string{"10.0.0.0/16", "10.1.0.0/16"} }, func(o *policyObjects) {
			for _, p := range services(o) {
				p.Spec.Ingress[0].From = cidrPeers("10.0.0.0/16", "10.1.0.0/16")
			}
		}},
		{"and from the load-test runners", func(a *components.NetworkPoliciesArgs) {
			a.IngressCIDRs = []string{"10.0.0.0/16"}
			a.AllowFromPods = map[string]string{"app.kubernetes.io/name": "loadtest"}
		}, func(o *policyObjects) {
			for _, p := range services(o) {
				p.Spec.Ingress[0].From = append(cidrPeers("10.0.0.0/16"),
					networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "loadtest"}}})
			}
		}},
		{"runners without ingress CIDRs: anyone may connect already", func(a *components.NetworkPoliciesArgs) {
			a.AllowFromPods = map[string]string{"app.kubernetes.io/name": "loadtest"}
		}, func(*policyObjects) {}},
		{"https and redis CIDRs, redis port", func(a *components.NetworkPoliciesArgs) {
			a.HTTPSEgressCIDRs, a.RedisCIDRs, a.RedisPort = []string{"10.2.0.0/16"}, []string{"10.3.0.0/24"}, 6380
		}, func(o *policyObjects) {
			for _, p := range services(o) {
				p.Spec.Egress[1].To = cidrPeers("10.2.0.0/16")
			}
			o.server.Spec.Egress[2] = networkingv1.NetworkPolicyEgressRule{To: cidrPeers("10.3.0.0/24"), Ports: []networkingv1.NetworkPolicyPort{tcpPort(6380)}}
		}},
		{"in-cluster redis", func(a *components.NetworkPoliciesArgs) {
			a.RedisPodSelector = map[string]string{"app.kubernetes.io/name": "shop-redis"}
		}, func(o *policyObjects) {
			o.server.Spec.Egress[2].To = []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "shop-redis"}}}}
		}},
		{"extra egress", func(a *components.NetworkPoliciesArgs) {
			a.ExtraEgress = []components.EgressRule{{Name: "postgres", CIDRs: []string{"10.1.0.0/16", "10.4.0.0/16"}, Ports: []int32{5432, 5433}}}
		}, func(o *policyObjects) {
			for _, p := range services(o) {
				p.Spec.Egress = append(p.Spec.Egress, networkingv1.NetworkPolicyEgressRule{
					To: cidrPeers("10.1.0.0/16", "10.4.0.0/16"), Ports: []networkingv1.NetworkPolicyPort{tcpPort(5432), tcpPort(5433)},
				})
			}
		}},
		// The monitoring package's scrape rule: one peer with both
		// selectors, the Prometheus pods of the Prometheus namespace, on the
		// port monitoringArgs names.
		{"prometheus scrapes the server", func(a *components.NetworkPoliciesArgs) {
			scrapes, err := monitoring.ScrapeIngresses(monitoringArgs().Watch)
			if err != nil {
				t.Fatal(err)
			}
			a.Services[0].Scrape = &scrapes[0]
		}, func(o *policyObjects) {
			o.server.Spec.Ingress = append(o.server.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{
				From: []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}},
					PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "prometheus"}},
				}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromString("http"))}},
			})
		}},
	})
}

func ExampleNewAlbIngress() {
	resources, err := mockrun.Capture("example", "dev", nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewAlbIngress(ctx, "shop", components.AlbIngressArgs{
			IngressSpec: components.IngressSpec{
				Name: "shop", CertificateARN: "arn:aws:acm:eu-north-1:123456789012:certificate/abc-1",
				Routes: []components.IngressRoute{{Path: "/", Service: "client"}, {Path: "/api", Service: "server"}},
			},
			Namespace: pulumi.String("shop"), PartOf: "shop",
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
