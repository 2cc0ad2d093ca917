package memory_test

import (
	"testing"

	"github.com/huren-health/huren/auth"
	"github.com/huren-health/huren/auth/memory"
	"github.com/huren-health/huren/auth/statetest"
)

func TestState(t *testing.T) {
	statetest.Run(t, func(*testing.T) auth.State { return memory.New() })
}
