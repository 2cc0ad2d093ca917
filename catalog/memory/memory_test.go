package memory_test

import (
	"testing"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/catalog/catalogtest"
	"github.com/huren-health/huren/catalog/memory"
)

func TestContract(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) catalog.Catalog { return memory.New(nil) })
}
