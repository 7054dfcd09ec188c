//go:build !purego

package boomer

// exampleBuildTags are the build tags the integration tests build example
// programs with, so that a worker process uses the same transport as the
// test binary.
const exampleBuildTags = ""
