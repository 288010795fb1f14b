package components

import (
	"fmt"
	"regexp"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/internal/validate"
)

// IRSAAnnotation binds a ServiceAccount to an IAM role on EKS (IAM Roles for Service Accounts).
const IRSAAnnotation = "eks.amazonaws.com/role-arn"

// ServiceIdentityArgs configures the pods' ServiceAccount and its RBAC.
type ServiceIdentityArgs struct {
	// Name of the ServiceAccount, Role and RoleBinding. Required.
	Name string
	// Namespace to create them in. Required.
	Namespace pulumi.StringInput
	// PartOf is the application label value. Required.
	PartOf string
	// IAMRoleARN, when set, is written to the eks.amazonaws.com/role-arn
	// annotation so pods get AWS credentials for that role (IRSA). Default: none.
	IAMRoleARN string
	// AutomountToken mounts the Kubernetes API token into pods. Default false:
	// the web services do not call the API server, so they get no credentials.
	AutomountToken bool
	// ReadableConfigMaps and ReadableSecrets are the only objects the Role
	// grants "get" on (by resourceNames). Default: none, and then no Role
	// or RoleBinding at all. Pods load their config through envFrom, which
	// the kubelet resolves with its own credentials, so only a pod that
	// calls the API itself (AutomountToken) needs these.
	ReadableConfigMaps []string
	ReadableSecrets    []string
}

// ServiceIdentity is a ServiceAccount with a least-privilege Role and RoleBinding.
type ServiceIdentity struct {
	pulumi.ResourceState

	// ServiceAccountName is the name pods reference.
	ServiceAccountName pulumi.StringOutput `pulumi:"serviceAccountName"`
}

var iamRoleARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)

// Validate reports every problem with the args, with field paths under path.
func (a ServiceIdentityArgs) Validate(path string) error {
	var errs validate.Errors
	validate.DNSLabel(&errs, validate.Join(path, "name"), a.Name, 63)
	if a.IAMRoleARN != "" && !iamRoleARN.MatchString(a.IAMRoleARN) {
		errs.Add(validate.Join(path, "iamRoleArn"), a.IAMRoleARN, "is not an IAM role ARN", `use "arn:aws:iam::<12-digit account>:role/<name>"`)
	}
	return errs.Err()
}

// roleRules grants get on exactly the named objects, nothing else.
func roleRules(a ServiceIdentityArgs) rbacv1.PolicyRuleArray {
	var rules rbacv1.PolicyRuleArray
	for _, r := range []struct {
		resource string
		names    []string
	}{{"configmaps", a.ReadableConfigMaps}, {"secrets", a.ReadableSecrets}} {
		if len(r.names) == 0 {
			continue
		}
		rules = append(rules, rbacv1.PolicyRuleArgs{
			ApiGroups:     pulumi.StringArray{pulumi.String("")},
			Resources:     pulumi.StringArray{pulumi.String(r.resource)},
			ResourceNames: pulumi.ToStringArray(r.names),
			Verbs:         pulumi.StringArray{pulumi.String("get")},
		})
	}
	return rules
}

// NewServiceIdentity registers a ServiceIdentity component.
func NewServiceIdentity(ctx *pulumi.Context, name string, args ServiceIdentityArgs, opts ...pulumi.ResourceOption) (*ServiceIdentity, error) {
	if err := args.Validate("serviceAccount"); err != nil {
		return nil, fmt.Errorf("service identity %s: %w", name, err)
	}
	comp := &ServiceIdentity{}
	if err := ctx.RegisterComponentResource("cirkelline:components:ServiceIdentity", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("register service identity %s: %w", name, err)
	}
	parent := pulumi.Parent(comp)
	objs := buildServiceIdentity(args)
	sa, err := corev1.NewServiceAccount(ctx, name, objs.account, parent)
	if err != nil {
		return nil, fmt.Errorf("service identity %s: service account: %w", name, err)
	}
	comp.ServiceAccountName = sa.Metadata.Name().Elem()
	if objs.role != nil {
		role, err := rbacv1.NewRole(ctx, name, objs.role, parent)
		if err != nil {
			return nil, fmt.Errorf("service identity %s: role: %w", name, err)
		}
		// The binding names both: they come first.
		if _, err := rbacv1.NewRoleBinding(ctx, name, objs.binding, parent, pulumi.DependsOn([]pulumi.Resource{sa, role})); err != nil {
			return nil, fmt.Errorf("service identity %s: role binding: %w", name, err)
		}
	}
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{"serviceAccountName": comp.ServiceAccountName}); err != nil {
		return nil, fmt.Errorf("service identity %s outputs: %w", name, err)
	}
	return comp, nil
}

// serviceIdentityObjects are the identity's objects, as
// buildServiceIdentity builds them; role and binding are nil when there is
// nothing to grant.
type serviceIdentityObjects struct {
	account *corev1.ServiceAccountArgs
	role    *rbacv1.RoleArgs
	binding *rbacv1.RoleBindingArgs
}

// buildServiceIdentity builds the identity's objects from valid args;
// NewServiceIdentity only registers them.
func buildServiceIdentity(a ServiceIdentityArgs) serviceIdentityObjects {
	labels := stringMap(Labels(a.PartOf, a.Name, "identity"))
	meta := func() *metav1.ObjectMetaArgs { return objectMeta(a.Name, a.Namespace, labels, nil) }
	saMeta := meta()
	if a.IAMRoleARN != "" {
		saMeta.Annotations = pulumi.StringMap{IRSAAnnotation: pulumi.String(a.IAMRoleARN)}
	}
	objs := serviceIdentityObjects{account: &corev1.ServiceAccountArgs{
		Metadata:                     saMeta,
		AutomountServiceAccountToken: pulumi.Bool(a.AutomountToken),
	}}
	rules := roleRules(a)
	if len(rules) == 0 {
		// Nothing to grant: a Role without rules would only be noise.
		return objs
	}
	objs.role = &rbacv1.RoleArgs{Metadata: meta(), Rules: rules}
	objs.binding = &rbacv1.RoleBindingArgs{
		Metadata: meta(),
		RoleRef: rbacv1.RoleRefArgs{
			ApiGroup: pulumi.String("rbac.authorization.k8s.io"),
			Kind:     pulumi.String("Role"),
			Name:     pulumi.String(a.Name),
		},
		Subjects: rbacv1.SubjectArray{rbacv1.SubjectArgs{
			Kind:      pulumi.String("ServiceAccount"),
			Name:      pulumi.String(a.Name),
			Namespace: a.Namespace,
		}},
	}
	return objs
}
