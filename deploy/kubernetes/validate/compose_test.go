package main

import (
	"os"
	"strings"
	"testing"

	"github.com/locust-go/boomer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// composeFile is the part of the Compose specification that
// docker-compose.yml uses. Decoding it strictly rejects a misspelt key in
// those parts; it is no full check of the specification.
type composeFile struct {
	Services map[string]composeService `json:"services"`
}

type composeService struct {
	Image           string            `json:"image"`
	Command         []string          `json:"command"`
	Volumes         []string          `json:"volumes"`
	Ports           []string          `json:"ports"`
	Environment     map[string]string `json:"environment"`
	DependsOn       []string          `json:"depends_on"`
	StopGracePeriod string            `json:"stop_grace_period"`
	Build           *struct {
		Context string            `json:"context"`
		Target  string            `json:"target"`
		Args    map[string]string `json:"args"`
	} `json:"build"`
	Deploy *struct {
		Resources struct {
			Limits struct {
				CPUs   string `json:"cpus"`
				Memory string `json:"memory"`
			} `json:"limits"`
		} `json:"resources"`
	} `json:"deploy"`
}

func TestComposeWorkersReachMaster(t *testing.T) {
	data, err := os.ReadFile("../../../docker-compose.yml")
	require.NoError(t, err)
	var compose composeFile
	require.NoError(t, yaml.UnmarshalStrict(data, &compose))

	master, ok := compose.Services["master"]
	require.True(t, ok, "no service named master")
	worker, ok := compose.Services["worker"]
	require.True(t, ok, "no service named worker")

	assert.Contains(t, master.Command, "--master")
	bindPort := "5557"
	for _, arg := range master.Command {
		if value, ok := strings.CutPrefix(arg, "--master-bind-port="); ok {
			bindPort = value
		}
	}
	host := worker.Environment[boomer.EnvMasterHost]
	assert.Contains(t, compose.Services, host, "%s names no service", boomer.EnvMasterHost)
	assert.Equal(t, "master", host, "%s is not the master service", boomer.EnvMasterHost)
	assert.Equal(t, bindPort, worker.Environment[boomer.EnvMasterPort], "%s is not the port the master binds", boomer.EnvMasterPort)
	assert.Contains(t, worker.DependsOn, "master")
	require.NotNil(t, worker.Build, "the worker service does not build the Dockerfile")
	assert.Equal(t, ".", worker.Build.Context)
	for _, port := range master.Ports {
		assert.True(t, strings.HasPrefix(port, "127.0.0.1:"), "master port %s is published on every interface", port)
	}
}
