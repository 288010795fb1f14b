package workloads_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/cache/redisenv"
	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/stacks"
	"github.com/cirkelline/infra/workloads"
)

// revealing records every resource's inputs with secrets unwrapped, so a
// test can read what a pod would really receive.
type revealing struct {
	mu      sync.Mutex
	objects map[string]resource.PropertyMap // by "<type> <metadata.name>"
}

func (r *revealing) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := args.Name
	if meta, ok := args.Inputs["metadata"]; ok && meta.IsObject() {
		if n, ok := meta.ObjectValue()["name"]; ok && n.IsString() {
			name = n.StringValue()
		}
	}
	r.objects[args.TypeToken+" "+name] = args.Inputs
	state := args.Inputs.Copy()
	if args.TypeToken == "aws:elasticache/replicationGroup:ReplicationGroup" {
		state["primaryEndpointAddress"] = resource.NewStringProperty("master.redis.example.cache.amazonaws.com")
	}
	return args.Name + "-id", state, nil
}

func (r *revealing) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

func reveal(v resource.PropertyValue) resource.PropertyValue {
	for {
		switch {
		case v.IsSecret():
			v = v.SecretValue().Element
		case v.IsOutput():
			v = v.OutputValue().Element
		default:
			return v
		}
	}
}

func stringMap(t *testing.T, obj resource.PropertyMap, field string) map[string]string {
	t.Helper()
	out := map[string]string{}
	v := reveal(obj[resource.PropertyKey(field)])
	if !v.IsObject() {
		t.Fatalf("%s is not an object: %v", field, v)
	}
	for k, e := range v.ObjectValue() {
		out[string(k)] = reveal(e).StringValue()
	}
	return out
}

const token = "0123456789abcdef0123456789abcdef"

func deploy(t *testing.T, values map[string]string) (*revealing, *stacks.Config) {
	t.Helper()
	values["cirkelline:databaseUrl"] = "postgres://db"
	if _, ok := values["cirkelline:jwtSecret"]; !ok {
		values["cirkelline:jwtSecret"] = "jwt-secret-jwt-secret"
	}
	if _, ok := values["cirkelline:ingress"]; !ok {
		values["cirkelline:ingress"] = `{"scheme":"internal"}` // no certificate needed
	}
	src := stacks.MapSource{Values: values, Secrets: []string{"cirkelline:databaseUrl", "cirkelline:jwtSecret", "cirkelline:redis"}}
	plan, err := workloads.Load(src, "cirkelline", "test")
	if err != nil {
		t.Fatal(err)
	}
	mocks := &revealing{objects: map[string]resource.PropertyMap{}}
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := workloads.Deploy(ctx, plan)
		return err
	}, pulumi.WithMocks("cirkelline", "test", mocks))
	if err != nil {
		t.Fatal(err)
	}
	return mocks, plan.Config
}

// TestRedisEnvIsTheCacheContract: the env a service receives from the
// program is exactly what the cache library reads, for both Redis modes.
func TestRedisEnvIsTheCacheContract(t *testing.T) {
	tests := []struct {
		name     string
		redis    string
		wantAddr string
		wantTLS  bool
	}{
		{"in-cluster", `{"mode":"in-cluster","authToken":"` + token + `","db":3,"maxConnections":20}`,
			"cirkelline-redis.cirkelline.svc.cluster.local:6379", false},
		{"elasticache", `{"mode":"elasticache","authToken":"` + token + `","elasticache":{"vpcId":"vpc-1","subnetIds":["subnet-1"],"clusterSecurityGroupIds":["sg-1"]}}`,
			"master.redis.example.cache.amazonaws.com:6379", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mocks, cfg := deploy(t, map[string]string{
				"cirkelline:redis":    tt.redis,
				"cirkelline:services": `[{"name":"cirkelline-backend","image":"api:1","redis":true},{"name":"web","image":"web:1"}]`,
			})
			envName := workloads.RedisEnvName(cfg)
			secret := mocks.objects["kubernetes:core/v1:Secret "+envName]
			configMap := mocks.objects["kubernetes:core/v1:ConfigMap "+envName]
			if secret == nil || configMap == nil {
				t.Fatalf("no redis env objects named %s", envName)
			}
			env := stringMap(t, configMap, "data")
			for k, v := range stringMap(t, secret, "stringData") {
				env[k] = v
			}
			want := map[string]bool{redisenv.EnvURL: true, redisenv.EnvDB: true, redisenv.EnvMaxConnections: true, redisenv.EnvTLS: true}
			for k := range env {
				if !want[k] {
					t.Errorf("%s is not part of the cache library's contract", k)
				}
				delete(want, k)
			}
			if len(want) > 0 {
				t.Errorf("missing from the env: %v", want)
			}
			opts, err := redisenv.Parse(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatalf("the cache library rejects the program's env %v: %v", env, err)
			}
			if opts.Addr != tt.wantAddr || opts.Password != token || opts.TLS != tt.wantTLS {
				t.Errorf("cache options: addr %q tls %v, want %q tls %v", opts.Addr, opts.TLS, tt.wantAddr, tt.wantTLS)
			}
			if tt.name == "in-cluster" && (opts.DB != 3 || opts.PoolSize != 20) {
				t.Errorf("db %d pool %d, want 3 and 20", opts.DB, opts.PoolSize)
			}
			if tt.name == "elasticache" && (opts.DB != 0 || opts.PoolSize != 50) {
				t.Errorf("db %d pool %d, want the defaults 0 and 50", opts.DB, opts.PoolSize)
			}
			// Only the service that asked for Redis gets the env.
			envFrom := func(svc string) string {
				spec := reveal(mocks.objects["kubernetes:apps/v1:Deployment "+svc]["spec"]).ObjectValue()
				tmpl := reveal(spec["template"]).ObjectValue()
				pod := reveal(tmpl["spec"]).ObjectValue()
				c := reveal(pod["containers"]).ArrayValue()[0].ObjectValue()
				return reveal(c["envFrom"]).String()
			}
			if got := envFrom("cirkelline-backend"); !strings.Contains(got, envName) {
				t.Errorf("backend envFrom %s lacks %s", got, envName)
			}
			if got := envFrom("web"); strings.Contains(got, envName) {
				t.Errorf("web did not ask for Redis but gets it: %s", got)
			}
		})
	}
}

// TestSecretChecksumIsKeyed: the pods' checksum/secret annotation is a
// keyed checksum of the Secret's values (not their plain digest, nor keyed
// with anything a reader of pods could guess), and a rotated secret moves
// it, so the pods roll.
func TestSecretChecksumIsKeyed(t *testing.T) {
	annotation := func(jwt string) (string, map[string]string) {
		mocks, _ := deploy(t, map[string]string{"cirkelline:jwtSecret": jwt})
		data := stringMap(t, mocks.objects["kubernetes:core/v1:Secret cirkelline-secrets"], "stringData")
		spec := reveal(mocks.objects["kubernetes:apps/v1:Deployment cirkelline-backend"]["spec"]).ObjectValue()
		meta := reveal(reveal(spec["template"]).ObjectValue()["metadata"]).ObjectValue()
		return stringMap(t, meta, "annotations")[components.SecretChecksumAnnotation], data
	}
	got, data := annotation("jwt-secret-one-jwt-secret-one")
	if got == "" || got == components.Checksum(data) {
		t.Fatalf("checksum/secret %q is empty or the unkeyed digest of the Secret's values", got)
	}
	for _, key := range []string{"", "cirkelline", "cirkelline-secrets"} {
		if got == components.SecretChecksum(key, data) {
			t.Errorf("checksum/secret is keyed with %q, which a reader of pods could guess", key)
		}
	}
	if rotated, _ := annotation("jwt-secret-two-jwt-secret-two"); rotated == got {
		t.Errorf("rotating jwtSecret leaves checksum/secret at %s: the pods would not roll", got)
	}
}
