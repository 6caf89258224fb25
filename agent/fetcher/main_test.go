package fetcher

import (
	"testing"

	"github.com/mezzo-project/mezzo/internal/fuzzing"
)

// TestMain keeps the fuzzer's minimization short (package fuzzing): each
// run of the extraction targets writes files, and minimizing one new
// input for the default minute would stop the fuzzing meanwhile.
func TestMain(m *testing.M) { fuzzing.Main(m) }
