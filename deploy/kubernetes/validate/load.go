package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// objectSet is the decoded objects of one set of manifests, by name.
type objectSet struct {
	configMaps      map[string]*corev1.ConfigMap
	deployments     map[string]*appsv1.Deployment
	services        map[string]*corev1.Service
	networkPolicies map[string]*networkingv1.NetworkPolicy
}

func newObjectSet() *objectSet {
	return &objectSet{
		configMaps:      map[string]*corev1.ConfigMap{},
		deployments:     map[string]*appsv1.Deployment{},
		services:        map[string]*corev1.Service{},
		networkPolicies: map[string]*networkingv1.NetworkPolicy{},
	}
}

func (s *objectSet) count() int {
	return len(s.configMaps) + len(s.deployments) + len(s.services) + len(s.networkPolicies)
}

// kustomization is the part of kustomization.yaml the loader reads. The
// file itself is checked by `kubectl kustomize` in the tests.
type kustomization struct {
	Resources []string `json:"resources"`
}

// loadPaths decodes the objects of every path: a directory with a
// kustomization.yaml, or a YAML file.
func loadPaths(paths ...string) (*objectSet, error) {
	set := newObjectSet()
	for _, path := range paths {
		info, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		files := []string{path}
		if info.IsDir() {
			if files, err = kustomizationFiles(path); err != nil {
				return nil, err
			}
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				return nil, err
			}
			if err := set.decode(file, data); err != nil {
				return nil, err
			}
		}
	}
	return set, nil
}

// kustomizationFiles returns the files that dir/kustomization.yaml lists. It
// fails when a YAML file in dir is not listed, because such a file would
// never reach the cluster.
func kustomizationFiles(dir string) ([]string, error) {
	path := filepath.Join(dir, "kustomization.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var k kustomization
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}

	listed := map[string]bool{}
	var files []string
	for _, resource := range k.Resources {
		file := filepath.Join(dir, resource)
		if _, err := os.Stat(file); err != nil {
			return nil, fmt.Errorf("%s: resource %q: %w", path, resource, err)
		}
		listed[filepath.Clean(resource)] = true
		files = append(files, file)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var unlisted []string
	for _, entry := range entries {
		name := entry.Name()
		if entry.IsDir() || name == "kustomization.yaml" || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		if !listed[name] {
			unlisted = append(unlisted, name)
		}
	}
	if len(unlisted) > 0 {
		sort.Strings(unlisted)
		return nil, fmt.Errorf("%s does not list %s: add them to resources or remove them", path, strings.Join(unlisted, ", "))
	}
	return files, nil
}

// decode adds the objects of a YAML stream (documents separated by "---").
func (s *objectSet) decode(source string, data []byte) error {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for index := 1; ; index++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: document %d: %w", source, index, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		if err := s.decodeObject(doc); err != nil {
			return fmt.Errorf("%s: document %d: %w", source, index, err)
		}
	}
}

// scheme holds the API types the validator decodes.
var scheme = func() *runtime.Scheme {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, networkingv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(fmt.Sprintf("register Kubernetes API types: %v", err))
		}
	}
	return scheme
}()

// strictDecoder decodes YAML as the API server does with
// fieldValidation=Strict: an unknown or duplicate field is an error that
// names the field's path.
var strictDecoder = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
	kjson.SerializerOptions{Yaml: true, Strict: true})

// decodeObject decodes one object strictly and adds it to the set.
func (s *objectSet) decodeObject(doc []byte) error {
	if isEmptyDocument(doc) {
		return nil
	}
	object, gvk, err := strictDecoder.Decode(doc, nil, nil)
	if err != nil {
		if gvk != nil && gvk.Kind != "" {
			return fmt.Errorf("%s: %w", gvk.Kind, err)
		}
		return err
	}
	var (
		kind, name string
		exists     bool
	)
	switch o := object.(type) {
	case *corev1.ConfigMap:
		kind, name, exists = "ConfigMap", o.Name, s.configMaps[o.Name] != nil
		s.configMaps[o.Name] = o
	case *corev1.Service:
		kind, name, exists = "Service", o.Name, s.services[o.Name] != nil
		s.services[o.Name] = o
	case *appsv1.Deployment:
		kind, name, exists = "Deployment", o.Name, s.deployments[o.Name] != nil
		s.deployments[o.Name] = o
	case *networkingv1.NetworkPolicy:
		kind, name, exists = "NetworkPolicy", o.Name, s.networkPolicies[o.Name] != nil
		s.networkPolicies[o.Name] = o
	default:
		return fmt.Errorf("unsupported object apiVersion %q kind %q: the validator knows ConfigMap, Service, Deployment and NetworkPolicy", gvk.GroupVersion().String(), gvk.Kind)
	}
	switch {
	case name == "":
		return fmt.Errorf("%s without metadata.name", kind)
	case exists:
		return fmt.Errorf("%s %q is defined twice", kind, name)
	}
	return nil
}

// isEmptyDocument reports whether doc holds only comments.
func isEmptyDocument(doc []byte) bool {
	var value any
	return yaml.Unmarshal(doc, &value) == nil && value == nil
}
