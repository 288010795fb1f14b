package capacity

import "embed"

// CRDs holds Karpenter's CustomResourceDefinitions of the kinds built here
// (NodePool, karpenter.sh; EC2NodeClass, karpenter.k8s.aws), copied
// unchanged from the Go module github.com/aws/karpenter-provider-aws at
// KarpenterVersion (pkg/apis/crds/; the same bytes as the repository's tag
// v1.14.1, commit bde00654cd316fddb3dccfba3f5ac07039865429), for a cluster
// or API server that must accept these objects. A test walks the built
// objects against their schemas.
//
//go:embed crds/*.yaml
var CRDs embed.FS
