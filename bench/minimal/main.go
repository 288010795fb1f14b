// Command minimal is the build-time baseline for bench/render.sh: the
// smallest Pulumi Go program that registers a Kubernetes object. Our
// program's cold build is reported as a ratio against it.
package main

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		_, err := corev1.NewConfigMap(ctx, "minimal", &corev1.ConfigMapArgs{Data: pulumi.StringMap{"k": pulumi.String("v")}})
		return err
	})
}
