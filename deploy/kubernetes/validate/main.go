// Command validate checks the Kubernetes manifests of deploy/kubernetes
// without a cluster. It decodes every object strictly against the API types
// of k8s.io/api, so an unknown or misspelt field is an error. Then it checks
// the wiring between master and workers: Service ports that reach container
// ports, the environment variables the worker reads, probes on the health
// port, and resource requests equal to limits.
//
//	cd deploy/kubernetes/validate && go run . .. ../components/networkpolicy
//
// Each argument is a kustomization directory (its kustomization.yaml lists
// the files) or a YAML file. The exit status is 1 when a check fails.
package main

import (
	"fmt"
	"os"
)

func main() {
	paths := os.Args[1:]
	if len(paths) == 0 {
		fmt.Fprintln(os.Stderr, "usage: validate DIR|FILE...  (for example: go run . .. ../components/networkpolicy)")
		os.Exit(2)
	}
	set, err := loadPaths(paths...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "validate:", err)
		os.Exit(1)
	}
	problems := check(set)
	for _, problem := range problems {
		fmt.Fprintln(os.Stderr, "validate:", problem)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Printf("validate: %d objects valid\n", set.count())
}
