package boomer

// Version is the worker's version, logged when Run starts. Builds set it with
// -ldflags "-X github.com/locust-go/boomer.Version=v1.2.3"; the Makefile and
// the Dockerfile pass the version of the source tree.
var Version = "dev"
