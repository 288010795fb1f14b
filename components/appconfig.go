package components

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/internal/validate"
)

// Pod template annotations that change whenever the config or secret data
// changes, so that a config change rolls the pods.
const (
	ConfigChecksumAnnotation = "checksum/config"
	SecretChecksumAnnotation = "checksum/secret"
)

// AppConfigArgs configures the environment shared by a stack's services.
type AppConfigArgs struct {
	// ConfigMapName and SecretName are the objects' names. Required; explicit
	// because RBAC resourceNames and envFrom refer to them.
	ConfigMapName string
	SecretName    string
	// Namespace to create them in. Required.
	Namespace pulumi.StringInput
	// PartOf is the application label value. Required.
	PartOf string
	// Settings become the ConfigMap's data (non-secret environment variables).
	Settings map[string]string
	// Secrets become the Secret's data; values come from Pulumi secret config
	// and stay secret in state and in rendered output.
	Secrets map[string]pulumi.StringInput
	// ChecksumKey keys the secret checksum (HMAC-SHA256): the annotation
	// rolls the pods when a secret changes, but tells whoever can read pods
	// nothing about the values, and cannot be checked against guesses
	// without the key. It must be secret material such a reader lacks
	// (workloads passes a digest of the stack's secret config values).
	// Required when Secrets is set.
	ChecksumKey pulumi.StringInput
	// ChecksumName distinguishes the checksum annotations when a pod loads
	// several AppConfigs: "redis" gives checksum/redis-config and
	// checksum/redis-secret. Default: checksum/config and checksum/secret.
	ChecksumName string
}

// AppConfig is a ConfigMap of settings and a Secret of secret config.
type AppConfig struct {
	pulumi.ResourceState

	ConfigMapName pulumi.StringOutput `pulumi:"configMapName"`
	SecretName    pulumi.StringOutput `pulumi:"secretName"`
	// PodAnnotations are checksum annotations for a pod template: a change of
	// either object's data changes them and so rolls the pods. Only the secret
	// checksum is itself secret, so reviewers still see the config checksum move.
	PodAnnotations pulumi.StringMap
}

// Validate reports every problem with the args, with field paths under path.
func (a AppConfigArgs) Validate(path string) error {
	var errs validate.Errors
	validate.DNSLabel(&errs, validate.Join(path, "configMapName"), a.ConfigMapName, 253)
	validate.DNSLabel(&errs, validate.Join(path, "secretName"), a.SecretName, 253)
	if a.ChecksumName != "" {
		validate.DNSLabel(&errs, validate.Join(path, "checksumName"), a.ChecksumName, 40)
	}
	for _, k := range sortedKeys(a.Settings) {
		validate.EnvName(&errs, validate.Key(validate.Join(path, "settings"), k), k)
	}
	validateConfigMapData(&errs, validate.Join(path, "settings"), a.Settings)
	if len(a.Secrets) > 0 && a.ChecksumKey == nil {
		errs.Add(validate.Join(path, "checksumKey"), nil, "is required with secrets", "pass secret key material for the secret checksum (an unkeyed hash of the values would let anyone who reads pods test guesses)")
	}
	for _, k := range sortedKeys(a.Secrets) {
		validate.EnvName(&errs, validate.Key(validate.Join(path, "secretEnv"), k), k)
		if _, dup := a.Settings[k]; dup {
			errs.Add(validate.Key(validate.Join(path, "secretEnv"), k), nil, "is also a plain setting", "keep the variable in one place: settings or secretEnv")
		}
	}
	return errs.Err()
}

// Checksum is a stable digest of a string map, independent of key order:
// for data anyone may read (the ConfigMap's).
func Checksum(data map[string]string) string {
	h := sha256.New()
	writeCanonical(h, data)
	return hex.EncodeToString(h.Sum(nil))
}

// SecretChecksum is a keyed digest (HMAC-SHA256) of a string map: it
// changes with any value, and without key says nothing about them.
func SecretChecksum(key string, data map[string]string) string {
	h := hmac.New(sha256.New, []byte(key))
	writeCanonical(h, data)
	return hex.EncodeToString(h.Sum(nil))
}

// writeCanonical writes data length-prefixed in key order, so no two maps
// write the same bytes.
func writeCanonical(w io.Writer, data map[string]string) {
	for _, k := range sortedKeys(data) {
		fmt.Fprintf(w, "%d:%s=%d:%s\n", len(k), k, len(data[k]), data[k])
	}
}

// NewAppConfig registers an AppConfig component.
func NewAppConfig(ctx *pulumi.Context, name string, args AppConfigArgs, opts ...pulumi.ResourceOption) (*AppConfig, error) {
	if err := args.Validate("app"); err != nil {
		return nil, fmt.Errorf("app config %s: %w", name, err)
	}
	comp := &AppConfig{}
	if err := ctx.RegisterComponentResource("cirkelline:components:AppConfig", name, comp, opts...); err != nil {
		return nil, fmt.Errorf("register app config %s: %w", name, err)
	}
	objs := buildAppConfig(name, args)
	cm, err := corev1.NewConfigMap(ctx, name, objs.configMap, pulumi.Parent(comp))
	if err != nil {
		return nil, fmt.Errorf("app config %s: config map: %w", name, err)
	}
	secret, err := corev1.NewSecret(ctx, name, objs.secret, pulumi.Parent(comp))
	if err != nil {
		return nil, fmt.Errorf("app config %s: secret: %w", name, err)
	}
	comp.ConfigMapName = cm.Metadata.Name().Elem()
	comp.SecretName = secret.Metadata.Name().Elem()
	comp.PodAnnotations = objs.podAnnotations
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"configMapName": comp.ConfigMapName, "secretName": comp.SecretName,
	}); err != nil {
		return nil, fmt.Errorf("app config %s outputs: %w", name, err)
	}
	return comp, nil
}

// appConfigObjects are an AppConfig's objects and the checksum annotations
// for the pods that load them, as buildAppConfig builds them.
type appConfigObjects struct {
	configMap      *corev1.ConfigMapArgs
	secret         *corev1.SecretArgs
	podAnnotations pulumi.StringMap
}

// buildAppConfig builds the objects of the AppConfig registered as name
// from valid args; NewAppConfig only registers them.
func buildAppConfig(name string, a AppConfigArgs) appConfigObjects {
	labels := stringMap(Labels(a.PartOf, name, "config"))
	secretData := pulumi.StringMap{}
	for k, v := range a.Secrets {
		secretData[k] = pulumi.ToSecret(v).(pulumi.StringOutput)
	}
	// Hashing a value is not creating a resource: ApplyT is the right tool here.
	var key pulumi.StringInput = pulumi.String("")
	if a.ChecksumKey != nil {
		key = a.ChecksumKey
	}
	secretSum := pulumi.All(secretData.ToStringMapOutput(), key).ApplyT(func(v []any) string {
		return SecretChecksum(v[1].(string), v[0].(map[string]string))
	}).(pulumi.StringOutput)
	configKey, secretKey := ConfigChecksumAnnotation, SecretChecksumAnnotation
	if a.ChecksumName != "" {
		configKey, secretKey = "checksum/"+a.ChecksumName+"-config", "checksum/"+a.ChecksumName+"-secret"
	}
	return appConfigObjects{
		configMap: &corev1.ConfigMapArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(a.ConfigMapName), Namespace: a.Namespace, Labels: labels},
			Data:     stringMap(a.Settings),
		},
		secret: &corev1.SecretArgs{
			Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(a.SecretName), Namespace: a.Namespace, Labels: labels},
			Type:       pulumi.String("Opaque"),
			StringData: secretData,
		},
		podAnnotations: pulumi.StringMap{
			configKey: pulumi.String(Checksum(a.Settings)),
			secretKey: pulumi.ToSecret(secretSum).(pulumi.StringOutput),
		},
	}
}
