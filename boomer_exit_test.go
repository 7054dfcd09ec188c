package boomer

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestExitCode(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"quit from the master", ErrMasterQuit, 0},
		{"signal", &SignalError{Signal: syscall.SIGTERM}, 0},
		{"context ended", fmt.Errorf("boomer: context ended: %w", context.Canceled), 0},
		{"failed requests", &FailedRequestsError{Failures: 3, ExitCode: 7}, 7},
		{"wrapped failed requests", fmt.Errorf("run: %w", &FailedRequestsError{Failures: 1, ExitCode: 9}), 9},
		{"other error", errors.New("boomer: connection to the master closed unexpectedly"), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ExitCode(tc.err))
		})
	}
}
