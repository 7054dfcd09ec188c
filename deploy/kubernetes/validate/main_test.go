package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	baseDir      = ".."
	componentDir = "../components/networkpolicy"
)

func TestManifestsPassChecks(t *testing.T) {
	set, err := loadPaths(baseDir, componentDir)
	require.NoError(t, err)
	assert.Empty(t, check(set))
	assert.Len(t, set.deployments, 2)
	assert.Len(t, set.services, 1)
	assert.Len(t, set.configMaps, 1)
	assert.Len(t, set.networkPolicies, 1)
}

// copyManifests copies the base and the component into a new directory, with
// the same layout, and returns the paths of the copies.
func copyManifests(t *testing.T) (base, component string) {
	t.Helper()
	root := t.TempDir()
	base = filepath.Join(root, "kubernetes")
	component = filepath.Join(base, "components", "networkpolicy")
	require.NoError(t, os.MkdirAll(component, 0o755))
	for _, pair := range [][2]string{{baseDir, base}, {componentDir, component}} {
		entries, err := os.ReadDir(pair[0])
		require.NoError(t, err)
		for _, entry := range entries {
			if entry.IsDir() || !strings.HasSuffix(entry.Name(), ".yaml") {
				continue
			}
			data, err := os.ReadFile(filepath.Join(pair[0], entry.Name()))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(pair[1], entry.Name()), data, 0o644))
		}
	}
	return base, component
}

// mutate replaces the one occurrence of old in file with new.
func mutate(t *testing.T, file, old, new string) {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(data), old), "%s must contain %q exactly once", file, old)
	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(string(data), old, new, 1)), 0o644))
}

// problemsText loads and checks the manifests and returns every error as
// one string.
func problemsText(base, component string) string {
	set, err := loadPaths(base, component)
	if err != nil {
		return err.Error()
	}
	if err := errors.Join(check(set)...); err != nil {
		return err.Error()
	}
	return ""
}

func TestMutatedManifestsFail(t *testing.T) {
	cases := []struct {
		name string
		file string // relative to the base copy
		old  string
		new  string
		want string
	}{
		{
			name: "unknown field",
			file: "worker-deployment.yaml",
			old:  "      enableServiceLinks: false\n",
			new:  "      enableServiceLinks: false\n      enableServiceLink: false\n",
			want: `unknown field "spec.template.spec.enableServiceLink"`,
		},
		{
			name: "unknown field in a container",
			file: "master-deployment.yaml",
			old:  "          image: locustio/locust:2.47.0\n",
			new:  "          image: locustio/locust:2.47.0\n          imagePullPolicyy: Always\n",
			want: `unknown field "spec.template.spec.containers[0].imagePullPolicyy"`,
		},
		{
			name: "service port to a missing container port",
			file: "master-service.yaml",
			old:  "targetPort: master",
			new:  "targetPort: 5558",
			want: `Service locust-master: port "master" (5557) targets 5558, which is not a TCP container port of Deployment locust-master`,
		},
		{
			name: "worker port not on the service",
			file: "worker-deployment.yaml",
			old:  "value: \"5557\"",
			new:  "value: \"5558\"",
			want: "env LOCUST_MASTER_NODE_PORT=5558 is not a port of Service locust-master",
		},
		{
			name: "worker port to the web UI",
			file: "worker-deployment.yaml",
			old:  "value: \"5557\"",
			new:  "value: \"8089\"",
			want: "which does not target the master's port 5557",
		},
		{
			name: "missing master host",
			file: "worker-deployment.yaml",
			old:  "            - name: LOCUST_MASTER_NODE_HOST\n              value: locust-master\n",
			new:  "",
			want: "found no worker Deployment (a container with LOCUST_MASTER_NODE_HOST in its env)",
		},
		{
			name: "missing master port",
			file: "worker-deployment.yaml",
			old:  "            - name: LOCUST_MASTER_NODE_PORT\n              value: \"5557\"\n",
			new:  "",
			want: "env LOCUST_MASTER_NODE_PORT is missing",
		},
		{
			name: "misspelt env name",
			file: "worker-deployment.yaml",
			old:  "- name: LOCUST_MASTER_NODE_PORT",
			new:  "- name: LOCUST_MASTER_PORT",
			want: "env LOCUST_MASTER_PORT is not read by the worker",
		},
		{
			name: "master host not a service",
			file: "worker-deployment.yaml",
			old:  "value: locust-master",
			new:  "value: master",
			want: `env LOCUST_MASTER_NODE_HOST="master" is not the name of a Service`,
		},
		{
			name: "missing GOMEMLIMIT",
			file: "worker-deployment.yaml",
			old:  "            - name: GOMEMLIMIT\n              valueFrom:\n                resourceFieldRef:\n                  resource: limits.memory\n",
			new:  "",
			want: "env GOMEMLIMIT is missing",
		},
		{
			name: "requests differ from limits",
			file: "worker-deployment.yaml",
			old:  "            limits:\n              cpu: \"1\"\n              memory: 512Mi\n",
			new:  "            limits:\n              cpu: \"1\"\n              memory: 1Gi\n",
			want: "resources.requests.memory 512Mi differs from resources.limits.memory 1Gi",
		},
		{
			name: "readiness probe on another port",
			file: "worker-deployment.yaml",
			old:  "              path: /readyz\n              port: health\n",
			new:  "              path: /readyz\n              port: 8081\n",
			want: "readinessProbe.httpGet.port 8081 is not the health port 8080",
		},
		{
			name: "liveness probe on the readiness path",
			file: "worker-deployment.yaml",
			old:  "path: /healthz",
			new:  "path: /readyz",
			want: `livenessProbe.httpGet.path is "/readyz", expected "/healthz"`,
		},
		{
			name: "health port env not a container port",
			file: "worker-deployment.yaml",
			old:  "value: \"8080\"",
			new:  "value: \"9090\"",
			want: "env BOOMER_HEALTH_PORT=9090 is not a container port",
		},
		{
			name: "service links on",
			file: "master-deployment.yaml",
			old:  "enableServiceLinks: false",
			new:  "enableServiceLinks: true",
			want: "Deployment locust-master: set enableServiceLinks: false",
		},
		{
			name: "two masters",
			file: "master-deployment.yaml",
			old:  "replicas: 1",
			new:  "replicas: 2",
			want: "the master needs replicas: 1",
		},
		{
			name: "locustfile key missing",
			file: "locustfile-configmap.yaml",
			old:  "  locustfile.py: |",
			new:  "  main.py: |",
			want: `needs key "locustfile.py" in ConfigMap locust-locustfile`,
		},
		{
			name: "master port open to every pod",
			file: "components/networkpolicy/networkpolicy.yaml",
			old:  "              app.kubernetes.io/component: worker\n",
			new:  "",
			want: "admits port 5557 from the pods of Deployment locust-master, which is not a worker",
		},
		{
			name: "file not listed in the kustomization",
			file: "kustomization.yaml",
			old:  "  - master-service.yaml\n",
			new:  "",
			want: "does not list master-service.yaml",
		},
		{
			name: "quantity not valid",
			file: "worker-deployment.yaml",
			old:  "            requests:\n              cpu: \"1\"\n",
			new:  "            requests:\n              cpu: one\n",
			want: "quantities must match the regular expression",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base, component := copyManifests(t)
			require.Empty(t, problemsText(base, component), "the unchanged copy must pass")
			mutate(t, filepath.Join(base, tc.file), tc.old, tc.new)
			assert.Contains(t, problemsText(base, component), tc.want)
		})
	}
}

// kubectl returns the path of kubectl, or skips the test.
func kubectl(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed; `kubectl kustomize` is not checked (install kubectl to run this test)")
	}
	return path
}

func TestKustomizeBuildOutputPassesChecks(t *testing.T) {
	bin := kubectl(t)
	out, err := exec.Command(bin, "kustomize", baseDir).Output()
	require.NoError(t, err, "kubectl kustomize %s: %s", baseDir, stderrOf(err))

	set := newObjectSet()
	require.NoError(t, set.decode("kubectl kustomize output", out))
	assert.Len(t, set.deployments, 2)
	assert.Len(t, set.services, 1)
	assert.Empty(t, check(set))
	for _, d := range set.deployments {
		assert.Equal(t, "locust", d.Labels["app.kubernetes.io/part-of"], "Deployment %s without the common label", d.Name)
	}
	worker := set.deployments["locust-worker"]
	require.NotNil(t, worker)
	assert.Equal(t, "boomer-worker:latest", worker.Spec.Template.Spec.Containers[0].Image)
}

func TestKustomizeOverlayWithNetworkPolicy(t *testing.T) {
	bin := kubectl(t)
	// An overlay as a user would write one: a namespace, the NetworkPolicy
	// component and 20 workers. Kustomize rejects absolute paths and an
	// overlay inside its base, so both are copied side by side.
	base, _ := copyManifests(t)
	overlay := filepath.Join(filepath.Dir(base), "overlay")
	require.NoError(t, os.Mkdir(overlay, 0o755))
	kustomization := `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: load
resources:
  - ../kubernetes
components:
  - ../kubernetes/components/networkpolicy
replicas:
  - name: locust-worker
    count: 20
`
	require.NoError(t, os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(kustomization), 0o644))
	out, err := exec.Command(bin, "kustomize", overlay).Output()
	require.NoError(t, err, "kubectl kustomize %s: %s", overlay, stderrOf(err))

	set := newObjectSet()
	require.NoError(t, set.decode("kubectl kustomize output", out))
	assert.Len(t, set.networkPolicies, 1)
	assert.Empty(t, check(set))
	worker := set.deployments["locust-worker"]
	require.NotNil(t, worker)
	require.NotNil(t, worker.Spec.Replicas)
	assert.Equal(t, int32(20), *worker.Spec.Replicas, "replicas from the overlay")
	for _, svc := range set.services {
		assert.Equal(t, "load", svc.Namespace, "namespace from the overlay")
	}
}

func stderrOf(err error) string {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return string(exitErr.Stderr)
	}
	return ""
}

func TestLoadRejectsUnsupportedKind(t *testing.T) {
	set := newObjectSet()
	err := set.decode("inline", []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unsupported object apiVersion "v1" kind "Secret"`)
}

func TestLoadRejectsDuplicateField(t *testing.T) {
	set := newObjectSet()
	err := set.decode("inline", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n  name: second\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `key "name" already set in map`)
}
