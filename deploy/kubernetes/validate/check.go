package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/locust-go/boomer"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// workerEnv is every environment variable with a LOCUST_ or BOOMER_ prefix
// that the Go worker reads. Another name with those prefixes is a typo.
var workerEnv = map[string]bool{
	boomer.EnvMasterHost: true,
	boomer.EnvMasterPort: true,
	boomer.EnvHealthPort: true,
}

// check runs the wiring checks on a decoded set and returns every problem.
func check(set *objectSet) []error {
	var problems []error
	report := func(format string, args ...any) {
		problems = append(problems, fmt.Errorf(format, args...))
	}

	for _, name := range sortedKeys(set.deployments) {
		checkDeployment(set.deployments[name], report)
	}
	for _, name := range sortedKeys(set.services) {
		checkService(set, set.services[name], report)
	}

	masters, workers := roles(set)
	switch {
	case len(masters) != 1:
		report("found %d master Deployments (a container with --master in its args), expected 1", len(masters))
	case len(workers) == 0:
		report("found no worker Deployment (a container with %s in its env)", boomer.EnvMasterHost)
	default:
		master := masters[0]
		checkMaster(set, master, report)
		for _, worker := range workers {
			checkWorker(set, master, worker, report)
		}
		for _, name := range sortedKeys(set.networkPolicies) {
			checkNetworkPolicy(set, set.networkPolicies[name], master, workers, report)
		}
	}
	return problems
}

type reporter func(format string, args ...any)

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

// roles returns the master Deployments (a container runs locust --master)
// and the worker Deployments (a container has LOCUST_MASTER_NODE_HOST).
func roles(set *objectSet) (masters, workers []*appsv1.Deployment) {
	for _, name := range sortedKeys(set.deployments) {
		d := set.deployments[name]
		for _, c := range d.Spec.Template.Spec.Containers {
			if hasArg(c.Args, "--master") {
				masters = append(masters, d)
				break
			}
			if envVar(c, boomer.EnvMasterHost) != nil {
				workers = append(workers, d)
				break
			}
		}
	}
	return masters, workers
}

func checkDeployment(d *appsv1.Deployment, report reporter) {
	where := "Deployment " + d.Name
	podLabels := labels.Set(d.Spec.Template.Labels)
	if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels) == 0 {
		report("%s: spec.selector.matchLabels is empty", where)
	} else if !labels.SelectorFromSet(d.Spec.Selector.MatchLabels).Matches(podLabels) {
		report("%s: spec.selector.matchLabels %v does not match the pod template labels %v", where, d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
	}
	pod := d.Spec.Template.Spec
	if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
		report("%s: set enableServiceLinks: false, so that Service environment variables such as LOCUST_MASTER_PORT do not reach the containers", where)
	}
	for _, c := range pod.Containers {
		checkResources(where, c, report)
	}
}

// checkResources requires cpu and memory requests equal to their limits
// (the Guaranteed QoS class), so a load generator never competes for CPU it
// was promised.
func checkResources(where string, c corev1.Container, report reporter) {
	for _, resource := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		request, hasRequest := c.Resources.Requests[resource]
		limit, hasLimit := c.Resources.Limits[resource]
		switch {
		case !hasRequest || !hasLimit:
			report("%s: container %s: set both resources.requests.%s and resources.limits.%s", where, c.Name, resource, resource)
		case request.Cmp(limit) != 0:
			report("%s: container %s: resources.requests.%s %s differs from resources.limits.%s %s: make them equal", where, c.Name, resource, request.String(), resource, limit.String())
		}
	}
}

// checkService requires the Service to select the pods of exactly one
// Deployment and every port to reach a container port of those pods.
func checkService(set *objectSet, svc *corev1.Service, report reporter) {
	where := "Service " + svc.Name
	if len(svc.Spec.Selector) == 0 {
		report("%s: spec.selector is empty", where)
		return
	}
	selector := labels.SelectorFromSet(svc.Spec.Selector)
	var selected []*appsv1.Deployment
	for _, name := range sortedKeys(set.deployments) {
		d := set.deployments[name]
		if selector.Matches(labels.Set(d.Spec.Template.Labels)) {
			selected = append(selected, d)
		}
	}
	if len(selected) != 1 {
		report("%s: selector %v matches the pods of %d Deployments, expected 1", where, svc.Spec.Selector, len(selected))
		return
	}
	for _, port := range svc.Spec.Ports {
		target := port.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(port.Port)
		}
		if _, ok := containerPort(selected[0], target, protocolOf(port.Protocol)); !ok {
			report("%s: port %q (%d) targets %s, which is not a %s container port of Deployment %s",
				where, port.Name, port.Port, target.String(), protocolOf(port.Protocol), selected[0].Name)
		}
	}
}

func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// containerPort resolves a port by name or number among the container ports
// of d's pods, and returns its number.
func containerPort(d *appsv1.Deployment, port intstr.IntOrString, protocol corev1.Protocol) (int32, bool) {
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			if protocolOf(p.Protocol) != protocol {
				continue
			}
			if port.Type == intstr.String && p.Name == port.StrVal {
				return p.ContainerPort, true
			}
			if port.Type == intstr.Int && p.ContainerPort == port.IntVal {
				return p.ContainerPort, true
			}
		}
	}
	return 0, false
}

func hasArg(args []string, arg string) bool {
	for _, a := range args {
		if a == arg {
			return true
		}
	}
	return false
}

// argValue returns the value of a --name=value or --name value argument.
func argValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if value, ok := strings.CutPrefix(a, name+"="); ok {
			return value, true
		}
		if a == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

func envVar(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// masterPort returns the port the master binds (--master-bind-port, Locust's
// default 5557).
func masterPort(master *appsv1.Deployment) int32 {
	for _, c := range master.Spec.Template.Spec.Containers {
		if value, ok := argValue(c.Args, "--master-bind-port"); ok {
			port, err := strconv.Atoi(value)
			if err == nil {
				return int32(port)
			}
		}
	}
	return 5557
}

func checkMaster(set *objectSet, master *appsv1.Deployment, report reporter) {
	where := "Deployment " + master.Name
	if master.Spec.Replicas == nil || *master.Spec.Replicas != 1 {
		report("%s: the master needs replicas: 1, because Locust runs one master per test", where)
	}
	port := masterPort(master)
	if _, ok := containerPort(master, intstr.FromInt32(port), corev1.ProtocolTCP); !ok {
		report("%s: the master binds port %d (--master-bind-port), which is not a container port", where, port)
	}
	for _, c := range master.Spec.Template.Spec.Containers {
		if !hasArg(c.Args, "--master") {
			continue
		}
		locustfile, ok := argValue(c.Args, "--locustfile")
		if !ok {
			locustfile, ok = argValue(c.Args, "-f")
		}
		if !ok {
			report("%s: container %s: pass --locustfile with the path of the mounted ConfigMap", where, c.Name)
			continue
		}
		checkLocustfileMount(set, master, c, locustfile, report)
	}
}

// checkLocustfileMount requires the locustfile path to be a key of a
// ConfigMap mounted in the master container.
func checkLocustfileMount(set *objectSet, d *appsv1.Deployment, c corev1.Container, path string, report reporter) {
	where := fmt.Sprintf("Deployment %s: container %s", d.Name, c.Name)
	for _, mount := range c.VolumeMounts {
		dir := strings.TrimSuffix(mount.MountPath, "/") + "/"
		key, ok := strings.CutPrefix(path, dir)
		if !ok {
			continue
		}
		for _, volume := range d.Spec.Template.Spec.Volumes {
			if volume.Name != mount.Name || volume.ConfigMap == nil {
				continue
			}
			cm := set.configMaps[volume.ConfigMap.Name]
			if cm == nil {
				report("%s: volume %s uses ConfigMap %q, which is not defined", where, volume.Name, volume.ConfigMap.Name)
				return
			}
			if _, ok := cm.Data[key]; !ok {
				report("%s: --locustfile %s needs key %q in ConfigMap %s", where, path, key, cm.Name)
			}
			return
		}
	}
	report("%s: --locustfile %s is not inside a mounted ConfigMap volume", where, path)
}

func checkWorker(set *objectSet, master, worker *appsv1.Deployment, report reporter) {
	where := "Deployment " + worker.Name
	if worker.Spec.Template.Spec.TerminationGracePeriodSeconds == nil {
		report("%s: set terminationGracePeriodSeconds", where)
	}
	if len(worker.Spec.Template.Spec.TopologySpreadConstraints) == 0 && worker.Spec.Template.Spec.Affinity == nil {
		report("%s: set topologySpreadConstraints or affinity, so that workers spread over nodes", where)
	}
	for _, c := range worker.Spec.Template.Spec.Containers {
		if envVar(c, boomer.EnvMasterHost) == nil {
			continue
		}
		cwhere := fmt.Sprintf("%s: container %s", where, c.Name)
		for _, env := range c.Env {
			if (strings.HasPrefix(env.Name, "LOCUST_") || strings.HasPrefix(env.Name, "BOOMER_")) && !workerEnv[env.Name] {
				report("%s: env %s is not read by the worker (it reads %s)", cwhere, env.Name, strings.Join(sortedKeys(workerEnv), ", "))
			}
		}
		checkMasterAddress(set, master, c, cwhere, report)
		checkMemoryLimitEnv(c, cwhere, report)
		checkHealthProbes(worker, c, cwhere, report)
	}
}

// checkMasterAddress requires LOCUST_MASTER_NODE_HOST to name a Service of
// the master and LOCUST_MASTER_NODE_PORT to be a port of that Service that
// reaches the port the master binds.
func checkMasterAddress(set *objectSet, master *appsv1.Deployment, c corev1.Container, where string, report reporter) {
	host := envVar(c, boomer.EnvMasterHost)
	port := envVar(c, boomer.EnvMasterPort)
	if port == nil {
		report("%s: env %s is missing: set it to the master Service's port", where, boomer.EnvMasterPort)
		return
	}
	svc := set.services[host.Value]
	if svc == nil {
		report("%s: env %s=%q is not the name of a Service in these manifests", where, boomer.EnvMasterHost, host.Value)
		return
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(master.Spec.Template.Labels)) {
		report("%s: env %s=%q names Service %s, which does not select the master's pods", where, boomer.EnvMasterHost, host.Value, svc.Name)
		return
	}
	number, err := strconv.Atoi(port.Value)
	if err != nil {
		report("%s: env %s=%q is not a port number", where, boomer.EnvMasterPort, port.Value)
		return
	}
	bind := masterPort(master)
	for _, p := range svc.Spec.Ports {
		if int(p.Port) != number {
			continue
		}
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		if resolved, ok := containerPort(master, target, protocolOf(p.Protocol)); !ok || resolved != bind {
			report("%s: env %s=%d reaches Service %s port %s, which does not target the master's port %d", where, boomer.EnvMasterPort, number, svc.Name, target.String(), bind)
		}
		return
	}
	report("%s: env %s=%d is not a port of Service %s", where, boomer.EnvMasterPort, number, svc.Name)
}

// checkMemoryLimitEnv requires GOMEMLIMIT to come from the container's
// memory limit.
func checkMemoryLimitEnv(c corev1.Container, where string, report reporter) {
	env := envVar(c, "GOMEMLIMIT")
	switch {
	case env == nil:
		report("%s: env GOMEMLIMIT is missing: set it from resourceFieldRef limits.memory", where)
	case env.ValueFrom == nil || env.ValueFrom.ResourceFieldRef == nil || env.ValueFrom.ResourceFieldRef.Resource != "limits.memory":
		report("%s: env GOMEMLIMIT must come from resourceFieldRef limits.memory", where)
	case !env.ValueFrom.ResourceFieldRef.Divisor.IsZero() && env.ValueFrom.ResourceFieldRef.Divisor.Value() != 1:
		report("%s: env GOMEMLIMIT: remove the divisor, because GOMEMLIMIT without a unit is in bytes", where)
	}
}

// checkHealthProbes requires BOOMER_HEALTH_PORT to be a container port and
// the liveness and readiness probes to GET the worker's paths on it.
func checkHealthProbes(d *appsv1.Deployment, c corev1.Container, where string, report reporter) {
	env := envVar(c, boomer.EnvHealthPort)
	if env == nil {
		report("%s: env %s is missing: the probes need the health check server", where, boomer.EnvHealthPort)
		return
	}
	port, err := strconv.Atoi(env.Value)
	if err != nil {
		report("%s: env %s=%q is not a port number", where, boomer.EnvHealthPort, env.Value)
		return
	}
	if _, ok := containerPort(d, intstr.FromInt(port), corev1.ProtocolTCP); !ok {
		report("%s: env %s=%d is not a container port", where, boomer.EnvHealthPort, port)
	}
	probes := []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"livenessProbe", c.LivenessProbe, boomer.HealthLivenessPath},
		{"readinessProbe", c.ReadinessProbe, boomer.HealthReadinessPath},
	}
	for _, p := range probes {
		if p.probe == nil || p.probe.HTTPGet == nil {
			report("%s: set %s.httpGet to %s on the health port", where, p.name, p.path)
			continue
		}
		get := p.probe.HTTPGet
		if get.Path != p.path {
			report("%s: %s.httpGet.path is %q, expected %q", where, p.name, get.Path, p.path)
		}
		resolved, ok := containerPort(d, get.Port, corev1.ProtocolTCP)
		if !ok || int(resolved) != port {
			report("%s: %s.httpGet.port %s is not the health port %d (%s)", where, p.name, get.Port.String(), port, boomer.EnvHealthPort)
		}
	}
}

// checkNetworkPolicy requires a policy for the master's pods to admit the
// master port from worker pods only.
func checkNetworkPolicy(set *objectSet, policy *networkingv1.NetworkPolicy, master *appsv1.Deployment, workers []*appsv1.Deployment, report reporter) {
	where := "NetworkPolicy " + policy.Name
	selector := labels.SelectorFromSet(policy.Spec.PodSelector.MatchLabels)
	if len(policy.Spec.PodSelector.MatchExpressions) > 0 {
		report("%s: podSelector.matchExpressions is not supported by this check", where)
		return
	}
	if !selector.Matches(labels.Set(master.Spec.Template.Labels)) {
		report("%s: podSelector %v does not select the master's pods", where, policy.Spec.PodSelector.MatchLabels)
		return
	}
	bind := masterPort(master)
	admitted := false
	for i, rule := range policy.Spec.Ingress {
		if !ruleCoversPort(rule, master, bind) {
			continue
		}
		if len(rule.From) == 0 {
			report("%s: ingress rule %d admits port %d from everywhere; admit it from the worker pods only", where, i, bind)
			continue
		}
		for _, peer := range rule.From {
			if peer.IPBlock != nil || peer.NamespaceSelector != nil || peer.PodSelector == nil {
				report("%s: ingress rule %d admits port %d from a peer that is not a worker pod selector", where, i, bind)
				continue
			}
			peerSelector := labels.SelectorFromSet(peer.PodSelector.MatchLabels)
			if len(peer.PodSelector.MatchLabels) == 0 || len(peer.PodSelector.MatchExpressions) > 0 {
				report("%s: ingress rule %d admits port %d from a pod selector without matchLabels, or with matchExpressions; select the worker pods by their labels", where, i, bind)
				continue
			}
			for _, name := range sortedKeys(set.deployments) {
				d := set.deployments[name]
				if !isWorker(d, workers) && peerSelector.Matches(labels.Set(d.Spec.Template.Labels)) {
					report("%s: ingress rule %d admits port %d from the pods of Deployment %s, which is not a worker", where, i, bind, d.Name)
				}
			}
			for _, worker := range workers {
				if peerSelector.Matches(labels.Set(worker.Spec.Template.Labels)) {
					admitted = true
				}
			}
		}
	}
	if !admitted {
		report("%s: no ingress rule admits the worker pods to the master's port %d", where, bind)
	}
}

// ruleCoversPort reports whether an ingress rule admits traffic to port of
// the master's pods: a rule without ports admits every port.
func ruleCoversPort(rule networkingv1.NetworkPolicyIngressRule, master *appsv1.Deployment, port int32) bool {
	if len(rule.Ports) == 0 {
		return true
	}
	for _, p := range rule.Ports {
		if p.Port == nil {
			return true
		}
		protocol := corev1.ProtocolTCP
		if p.Protocol != nil {
			protocol = *p.Protocol
		}
		if resolved, ok := containerPort(master, *p.Port, protocol); ok && resolved == port {
			return true
		}
		if p.Port.Type == intstr.Int && p.Port.IntVal <= port && p.EndPort != nil && *p.EndPort >= port {
			return true
		}
	}
	return false
}

func isWorker(d *appsv1.Deployment, workers []*appsv1.Deployment) bool {
	for _, w := range workers {
		if w == d {
			return true
		}
	}
	return false
}
