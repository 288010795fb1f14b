package components

import (
	"fmt"

	"github.com/cirkelline/infra/internal/validate"
)

// MaxConfigMapBytes is the most data a ConfigMap may hold: the API server
// refuses one whose data and binaryData values together exceed
// core.MaxSecretSize, 1 MiB (kubernetes pkg/apis/core/validation
// ValidateConfigMap; the keys are not counted).
const MaxConfigMapBytes = 1 << 20

// validateConfigMapData reports data the API server would refuse as a
// ConfigMap (too large), at path, the stack file's key that fills it.
func validateConfigMapData(errs *validate.Errors, path string, data map[string]string) {
	total := 0
	for _, v := range data {
		total += len(v)
	}
	if total > MaxConfigMapBytes {
		errs.Add(path, nil, fmt.Sprintf("holds %d bytes of values; a ConfigMap holds at most %d (1 MiB)", total, MaxConfigMapBytes),
			"move large values out of the stack file (a file in the image, or object storage) and keep only their location here")
	}
}

// validateAnnotations reports annotation keys the API server would refuse,
// each at path.<key> (validate.AnnotationKey).
func validateAnnotations(errs *validate.Errors, path string, annotations map[string]string) {
	for _, k := range sortedKeys(annotations) {
		validate.AnnotationKey(errs, validate.Key(path, k), k)
	}
}
