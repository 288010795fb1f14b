package main

import (
	"fmt"
	"slices"
	"testing"

	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/mockrun"
)

// containerPort is one port of one container of a Deployment's pods.
type containerPort struct {
	Deployment string
	Port       corev1.ContainerPort
}

func (p containerPort) String() string {
	return fmt.Sprintf("%s:%s/%d", p.Deployment, p.Port.Name, p.Port.ContainerPort)
}

// stackObjects are the decoded objects the port walk needs.
type stackObjects struct {
	services    map[string]corev1.Service // by namespace/name
	deployments []appsv1.Deployment
	ingresses   []networkingv1.Ingress
	monitors    []monv1.ServiceMonitor
}

func decodeStackObjects(t testing.TB, objs []mockrun.Object) stackObjects {
	s := stackObjects{services: map[string]corev1.Service{}}
	for _, o := range objs {
		switch o.Kind {
		case "Service":
			var svc corev1.Service
			mustDecode(t, o, &svc)
			s.services[svc.Namespace+"/"+svc.Name] = svc
		case "Deployment":
			var d appsv1.Deployment
			mustDecode(t, o, &d)
			s.deployments = append(s.deployments, d)
		case "Ingress":
			var ing networkingv1.Ingress
			mustDecode(t, o, &ing)
			s.ingresses = append(s.ingresses, ing)
		case "ServiceMonitor":
			var sm monv1.ServiceMonitor
			mustDecode(t, o, &sm)
			s.monitors = append(s.monitors, sm)
		}
	}
	return s
}

// containerPortsOf resolves a Service port to the container ports it
// reaches: the targetPort by name or number (an unset targetPort is the
// port's number) on every container of the pods the Service selects, as
// the endpoints controller does.
func (s stackObjects) containerPortsOf(svc corev1.Service, sp corev1.ServicePort) []containerPort {
	target := sp.TargetPort
	if target.Type == intstr.Int && target.IntVal == 0 {
		target = intstr.FromInt32(sp.Port)
	}
	var out []containerPort
	for _, d := range s.deployments {
		if d.Namespace != svc.Namespace || len(svc.Spec.Selector) == 0 || !selects(svc.Spec.Selector, d.Spec.Template.Labels) {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, cp := range c.Ports {
				if (target.Type == intstr.String && cp.Name == target.StrVal) || (target.Type == intstr.Int && cp.ContainerPort == target.IntVal) {
					out = append(out, containerPort{d.Name, cp})
				}
			}
		}
	}
	return out
}

// ingressReachable is every container port an Ingress of the stack routes
// to: each rule's and the default backend's Service port, by name or
// number, down to the pods.
func (s stackObjects) ingressReachable(t testing.TB) []containerPort {
	var out []containerPort
	for _, ing := range s.ingresses {
		var backends []networkingv1.IngressBackend
		if ing.Spec.DefaultBackend != nil {
			backends = append(backends, *ing.Spec.DefaultBackend)
		}
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				backends = append(backends, p.Backend)
			}
		}
		for _, b := range backends {
			if b.Service == nil {
				t.Errorf("Ingress %s: a backend that is no Service (%+v): extend this walk", ing.Name, b)
				continue
			}
			svc, ok := s.services[ing.Namespace+"/"+b.Service.Name]
			if !ok {
				t.Errorf("Ingress %s routes to Service %s, which the stack does not render", ing.Name, b.Service.Name)
				continue
			}
			for _, sp := range svc.Spec.Ports {
				if (b.Service.Port.Name != "" && sp.Name == b.Service.Port.Name) || (b.Service.Port.Number != 0 && sp.Port == b.Service.Port.Number) {
					out = append(out, s.containerPortsOf(svc, sp)...)
				}
			}
		}
	}
	return out
}

// metricsPorts are the container ports Prometheus scrapes (each
// ServiceMonitor's endpoint port on the Services it selects) and every
// container port named "metrics".
func (s stackObjects) metricsPorts() []containerPort {
	var out []containerPort
	for _, sm := range s.monitors {
		for _, svc := range s.services {
			if !slices.Contains(sm.Spec.NamespaceSelector.MatchNames, svc.Namespace) || !selects(sm.Spec.Selector.MatchLabels, svc.Labels) {
				continue
			}
			for _, ep := range sm.Spec.Endpoints {
				for _, sp := range svc.Spec.Ports {
					if sp.Name == ep.Port {
						out = append(out, s.containerPortsOf(svc, sp)...)
					}
				}
			}
		}
	}
	for _, d := range s.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == components.MetricsPortName {
					out = append(out, containerPort{d.Name, cp})
				}
			}
		}
	}
	return out
}

// selects: an empty selector selects every pod.
func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestIngressCannotReachMetrics: no Ingress of any shipped stack routes to
// a port that serves metrics, so https://<host>/metrics does not answer
// from the internet. Every ServiceMonitor must resolve to a container port
// (or the check would pass on nothing).
func TestIngressCannotReachMetrics(t *testing.T) {
	for _, stack := range shippedStacks(t) {
		objs := decodeStackObjects(t, renderStack(t, stack).Objects)
		reachable, metrics := objs.ingressReachable(t), objs.metricsPorts()
		if len(objs.ingresses) > 0 && len(reachable) == 0 {
			t.Errorf("%s: the Ingress reaches no container port", stack)
		}
		if len(objs.monitors) > 0 && len(metrics) == 0 {
			t.Errorf("%s: the ServiceMonitors scrape no container port", stack)
		}
		for _, m := range metrics {
			if slices.Contains(reachable, m) {
				t.Errorf("%s: the Ingress routes to %s, which serves metrics", stack, m)
			}
		}
	}
}

// TestIngressJoinsNoGroup: no shipped stack's Ingress names an ALB
// IngressGroup by annotation, which any Ingress in any namespace could
// join (issue 22); each stack's Ingress has an ALB of its own.
func TestIngressJoinsNoGroup(t *testing.T) {
	for _, stack := range shippedStacks(t) {
		for _, ing := range decodeStackObjects(t, renderStack(t, stack).Objects).ingresses {
			if g, ok := ing.Annotations["alb.ingress.kubernetes.io/group.name"]; ok {
				t.Errorf("%s: Ingress %s joins the ALB group %q, open to every namespace", stack, ing.Name, g)
			}
		}
	}
}

// TestEmptyDirsAreCapped: every emptyDir of every shipped stack's pods
// (Deployments and Jobs) has a sizeLimit, so no pod fills its node's disk.
func TestEmptyDirsAreCapped(t *testing.T) {
	for _, stack := range shippedStacks(t) {
		for _, o := range renderStack(t, stack).Objects {
			p, ok := podTemplate(t, o)
			if !ok {
				continue
			}
			for _, v := range p.Spec.Volumes {
				if v.EmptyDir != nil && v.EmptyDir.SizeLimit == nil {
					t.Errorf("%s/%s: emptyDir %s has no sizeLimit", stack, o.File, v.Name)
				}
			}
		}
	}
}
