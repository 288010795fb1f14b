package capacity

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cirkelline/infra/internal/validate"
)

// ScaleUpStep is one HPA's first scale-up step: how many pods it adds at
// once, and what each requests.
type ScaleUpStep struct {
	// Service names the HPA's workload. Required.
	Service string
	// Pods is the first step in pods: what the HPA's scale-up policies
	// allow from minReplicas under its selectPolicy (the faster policy
	// under Max, the slower under Min), capped at maxReplicas less
	// minReplicas. The caller computes it from the HPA spec
	// (components.HPASpec.FirstScaleUpStep). At least 1.
	Pods int
	// CPU and Memory are one of the service's pods' requests. Required.
	CPU, Memory resource.Quantity
	// Spread are the service's topology spread constraints (as its pod
	// template has them; their label selectors are ignored). The pause
	// pods holding room for this step get the same constraints, each
	// counting the pause pods: the room then sits in the zones the
	// service's spread will ask for (see Headroom). Default none.
	Spread []corev1.TopologySpreadConstraint
	// CPUPath and MemoryPath are the stack-file fields of the requests,
	// e.g. "services[0].resources.cpuRequest", and ServicePath of the
	// service's name. Default "headroom.steps[i].cpu", ".memory" and
	// ".service".
	CPUPath, MemoryPath, ServicePath string
}

// HeadroomArgs are a stack's headroom inputs. Zero values mean the
// documented default (WithDefaults).
type HeadroomArgs struct {
	// Name of the PriorityClass (cluster-scoped) and of the Deployment.
	// Required.
	Name string
	// Namespace of the Deployment. Required.
	Namespace string
	// Labels go on both objects, and on the pause pods with
	// "app.kubernetes.io/component": "headroom" (their selector). Default
	// none.
	Labels map[string]string
	// Steps are the first scale-up steps of the stack's HPAs; the headroom
	// is sized for the busiest (see Busiest). At least one.
	Steps []ScaleUpStep
	// Priority of the pause pods. Default -10: the cluster-autoscaler FAQ
	// reserves -10 for overprovisioning pods, "the lowest priority that
	// triggers scaling clusters" (pods below its
	// --expendable-pods-priority-cutoff, default -10, do not); any pod of
	// priority 0 or more (every pod without a class) preempts them.
	// Negative, at least -10 for Cluster Autoscaler to scale up for them.
	Priority int32
	// Image of the pause container. Default DefaultPauseImage.
	Image string
	// NodeSelector and Tolerations place the pause pods where the
	// services' pods go (the stack's own NodePool: its nodeSelector and
	// the toleration of its taint), so the room they hold is room those
	// pods can use. Default none.
	NodeSelector map[string]string
	Tolerations  []corev1.Toleration
}

// Defaults of HeadroomArgs.
const (
	DefaultHeadroomPriority int32 = -10
	// DefaultPauseImage is the pause image kubeadm uses for Kubernetes
	// v1.34 (`kubeadm config images list`), the one the
	// cluster-autoscaler FAQ's overprovisioning example runs (at 3.9).
	DefaultPauseImage = "registry.k8s.io/pause:3.10.1"
	// HeadroomComponent is the pause pods' app.kubernetes.io/component.
	HeadroomComponent = "headroom"
	// pauseUID runs the pause container as a non-root user whatever the
	// image's USER; it needs no privileges at all.
	pauseUID int64 = 65535
)

// WithDefaults returns a copy of a with every zero field set to its
// default. The maps and slices of the copy are its own.
func (a HeadroomArgs) WithDefaults() HeadroomArgs {
	if a.Priority == 0 {
		a.Priority = DefaultHeadroomPriority
	}
	if a.Image == "" {
		a.Image = DefaultPauseImage
	}
	a.Labels = maps.Clone(a.Labels)
	a.NodeSelector = maps.Clone(a.NodeSelector)
	a.Tolerations = slices.Clone(a.Tolerations)
	a.Steps = slices.Clone(a.Steps)
	for i := range a.Steps {
		s := &a.Steps[i]
		s.Spread = slices.Clone(s.Spread)
		s.CPUPath = cmp.Or(s.CPUPath, validate.Join(validate.Index("headroom.steps", i), "cpu"))
		s.MemoryPath = cmp.Or(s.MemoryPath, validate.Join(validate.Index("headroom.steps", i), "memory"))
		s.ServicePath = cmp.Or(s.ServicePath, validate.Join(validate.Index("headroom.steps", i), "service"))
	}
	return a
}

// Validate reports every problem of a (after WithDefaults), each with its
// field path, as one error matching ErrInvalidArgs and validate.ErrInvalid.
func (a HeadroomArgs) Validate() error {
	var errs validate.Errors
	validate.DNSLabel(&errs, "headroom.name", a.Name, 63)
	validate.DNSLabel(&errs, "headroom.namespace", a.Namespace, 63)
	for k := range a.Labels {
		validate.LabelKey(&errs, validate.Key("headroom.labels", k), k)
	}
	if len(a.Steps) == 0 {
		errs.Add("headroom.steps", nil, "is empty", "pass the first scale-up step of each HPA")
	}
	for i, s := range a.Steps {
		path := validate.Index("headroom.steps", i)
		if s.Service == "" {
			errs.Add(cmp.Or(s.ServicePath, validate.Join(path, "service")), nil, "is required", "")
		}
		if s.Pods < 1 {
			errs.Add(validate.Join(path, "pods"), s.Pods, "must be at least 1", "")
		}
		if s.CPU.Sign() <= 0 {
			errs.Add(cmp.Or(s.CPUPath, validate.Join(path, "cpu")), s.CPU.String(), "must be positive", "")
		}
		if s.Memory.Sign() <= 0 {
			errs.Add(cmp.Or(s.MemoryPath, validate.Join(path, "memory")), s.Memory.String(), "must be positive", "")
		}
	}
	if a.Priority >= 0 || a.Priority < DefaultHeadroomPriority {
		errs.Add("headroom.priority", a.Priority, fmt.Sprintf("must be negative and at least %d", DefaultHeadroomPriority),
			"pods below -10 do not make Cluster Autoscaler scale up, and pods of priority 0 must preempt these")
	}
	if a.Image == "" {
		errs.Add("headroom.image", nil, "is required", "")
	}
	if err := errs.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgs, err)
	}
	return nil
}

// Busiest is the step that requests the most at once: the largest total
// CPU (Pods × CPU), then the largest total memory, then the first given.
func Busiest(steps []ScaleUpStep) ScaleUpStep {
	var best ScaleUpStep
	for i, s := range steps {
		c, m := times(s.CPU, s.Pods), times(s.Memory, s.Pods)
		bc, bm := times(best.CPU, best.Pods), times(best.Memory, best.Pods)
		if i == 0 || c.Cmp(bc) > 0 || (c.Cmp(bc) == 0 && m.Cmp(bm) > 0) {
			best = s
		}
	}
	return best
}

// Headroom builds the overprovisioning the cluster-autoscaler FAQ
// describes ("How can I configure overprovisioning with Cluster
// Autoscaler?") and Kubernetes documents ("Overprovision Node Capacity For
// A Cluster"): a PriorityClass of negative value and a Deployment of
// pause pods under it that hold room on the nodes. A pod of the busiest
// HPA's first scale-up step preempts one pause pod and starts at once
// instead of waiting for a node; the preempted pause pod goes pending,
// and Karpenter or Cluster Autoscaler adds a node for it.
//
//   - The PriorityClass: value Priority (default -10), globalDefault false
//     (pods without a class keep priority 0, above the pause pods), and
//     preemptionPolicy Never: a pending pause pod never evicts anything,
//     it only waits for room ("Non-preempting PriorityClass", Kubernetes'
//     "Pod Priority and Preemption").
//   - The Deployment: Busiest(Steps).Pods replicas, each requesting (and
//     limited to) exactly one pod of that service's CPU and memory: one
//     pause pod per pod of the step, so each new pod fits in the room one
//     pause pod leaves on its node (a single large pause pod could hold
//     room no single node has). The pods run registry.k8s.io/pause with
//     the restricted Pod Security Standard's context (non-root, no
//     privilege escalation, every capability dropped, RuntimeDefault
//     seccomp, read-only root), no service-account token, and a zero
//     termination grace period (the FAQ's example), so that preemption
//     frees the room at once.
//   - The pause pods' placement: the busiest step's Spread, each
//     constraint selecting the pause pods themselves, and NodeSelector
//     and Tolerations. A service whose zone spread is hard (DoNotSchedule,
//     maxSkew 1) places each new pod only in a zone holding the fewest of
//     its pods (kube-scheduler's PodTopologySpread Filter refuses a node
//     when matchNum + selfMatchNum - minMatchNum > maxSkew,
//     k8s.io/kubernetes v1.37 pkg/scheduler/framework/plugins/
//     podtopologyspread/filtering.go); and a pod preempts pause pods only
//     on a node where, with them removed, every filter passes, the spread
//     included (defaultpreemption's SelectVictimsOnNode, same release).
//     Pause pods left to the scheduler's soft defaults can sit in one zone,
//     and the step's second pod then waits for a new node. Spread like the
//     service, the pause pods hold room in every zone: when the service
//     starts balanced over the zones (a replica count divisible by them),
//     every pod of the step finds a pause pod where its spread allows it
//     (integration/headroom_test.go runs both on the real scheduler);
//     when it does not, one zone can be one pause pod short.
func Headroom(args HeadroomArgs) (*schedulingv1.PriorityClass, *appsv1.Deployment, error) {
	a := args.WithDefaults()
	if err := a.Validate(); err != nil {
		return nil, nil, err
	}
	step := Busiest(a.Steps)
	never := corev1.PreemptNever
	pc := &schedulingv1.PriorityClass{
		TypeMeta:         metav1.TypeMeta{APIVersion: "scheduling.k8s.io/v1", Kind: "PriorityClass"},
		ObjectMeta:       metav1.ObjectMeta{Name: a.Name, Labels: maps.Clone(a.Labels)},
		Value:            a.Priority,
		GlobalDefault:    false,
		PreemptionPolicy: &never,
		Description: fmt.Sprintf("Pause pods holding room for the first scale-up step of %s (%d pods); any pod of priority 0 or more preempts them.",
			step.Service, step.Pods),
	}
	selector := map[string]string{"app.kubernetes.io/name": a.Name, "app.kubernetes.io/component": HeadroomComponent}
	podLabels := maps.Clone(a.Labels)
	if podLabels == nil {
		podLabels = map[string]string{}
	}
	maps.Copy(podLabels, selector)
	replicas := int32(step.Pods)
	zero := int64(0)
	yes, no := true, false
	uid := pauseUID
	requests := corev1.ResourceList{corev1.ResourceCPU: step.CPU.DeepCopy(), corev1.ResourceMemory: step.Memory.DeepCopy()}
	var spread []corev1.TopologySpreadConstraint
	for _, c := range step.Spread {
		c = *c.DeepCopy()
		c.LabelSelector = &metav1.LabelSelector{MatchLabels: maps.Clone(selector)}
		spread = append(spread, c)
	}
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: a.Name, Namespace: a.Namespace, Labels: maps.Clone(podLabels)},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					PriorityClassName:             a.Name,
					TerminationGracePeriodSeconds: &zero,
					TopologySpreadConstraints:     spread,
					NodeSelector:                  a.NodeSelector,
					Tolerations:                   a.Tolerations,
					AutomountServiceAccountToken:  &no,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   &yes,
						RunAsUser:      &uid,
						RunAsGroup:     &uid,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:  "pause",
						Image: a.Image,
						Resources: corev1.ResourceRequirements{
							Requests: requests,
							Limits:   requests.DeepCopy(),
						},
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: &no,
							ReadOnlyRootFilesystem:   &yes,
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
				},
			},
		},
	}
	return pc, d, nil
}
