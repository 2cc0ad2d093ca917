package memory_test

import (
	"testing"

	"github.com/huren-health/huren/worklist"
	"github.com/huren-health/huren/worklist/memory"
	"github.com/huren-health/huren/worklist/worklisttest"
)

func TestContract(t *testing.T) {
	worklisttest.Run(t, worklisttest.Shared(func(c worklist.Config) worklist.Queue { return memory.New(c) }))
}
