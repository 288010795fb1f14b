package stacks_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/internal/golden"
	"github.com/cirkelline/infra/stacks"
)

// schemaMarker starts the part of Pulumi.yaml that projectSchema writes.
const schemaMarker = "  # Generated from stacks.Config by TestProjectSchema (go test ./stacks -update): do not edit below.\n"

// TestProjectSchema: Pulumi.yaml declares each of the project's config keys
// as the Go types do: the key (a json tag of stacks.Config), its type (the
// field's kind), its description (the field's doc comment, and the keys
// of an object) and its default (stacks.Defaults, as JSON would write it).
// The whole declaration is generated, so any difference fails here; -update
// rewrites it.
func TestProjectSchema(t *testing.T) {
	want := projectSchema(t)
	raw, err := os.ReadFile("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	head, got, found := strings.Cut(string(raw), schemaMarker)
	if !found {
		t.Fatalf("Pulumi.yaml has no line %q", schemaMarker)
	}
	if golden.Update() {
		if err := os.WriteFile("../Pulumi.yaml", []byte(head+schemaMarker+want), 0o644); err != nil {
			t.Fatal(err)
		}
		got = want
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Pulumi.yaml's config schema and stacks.Config disagree (-go +Pulumi.yaml); run go test ./stacks -update:\n%s", diff)
	}
	// What Pulumi.yaml declares is what the program runs with: a stack
	// that sets nothing gets the declared defaults, and they decode to
	// stacks.Defaults() exactly.
	var project struct {
		Config map[string]any `json:"config"`
	}
	if err := yaml.Unmarshal([]byte(head+schemaMarker+got), &project); err != nil {
		t.Fatal(err)
	}
	defaults := reflect.ValueOf(stacks.Defaults())
	for _, f := range configFields() {
		decl, ok := project.Config[f.key].(map[string]any)
		if !ok {
			continue // the diff above says so
		}
		fresh := reflect.New(f.field.Type)
		b, _ := json.Marshal(decl["default"])
		if err := json.Unmarshal(b, fresh.Interface()); err != nil {
			t.Errorf("%s: Pulumi.yaml's default does not decode: %v", f.key, err)
			continue
		}
		if !reflect.DeepEqual(fresh.Elem().Interface(), defaults.FieldByIndex(f.field.Index).Interface()) {
			t.Errorf("%s: Pulumi.yaml's default decodes to\n%+v\nwant stacks.Defaults()'s\n%+v", f.key, fresh.Elem().Interface(), defaults.FieldByIndex(f.field.Index).Interface())
		}
	}
}

type configField struct {
	key   string
	field reflect.StructField
}

// configFields are stacks.Config's config keys, in declaration order.
func configFields() []configField {
	t := reflect.TypeFor[stacks.Config]()
	var out []configField
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		out = append(out, configField{name, f})
	}
	return out
}

// projectSchema writes the config declarations of Pulumi.yaml from the Go
// types: one entry per key of stacks.Config.
func projectSchema(t *testing.T) string {
	t.Helper()
	docs := fieldDocs(t, "config.go", "Config")
	defaults := reflect.ValueOf(stacks.Defaults())
	var b strings.Builder
	for _, f := range configFields() {
		doc, ok := docs[f.field.Name]
		if !ok {
			t.Errorf("stacks.Config.%s has no doc comment", f.field.Name)
		}
		typ, items := schemaType(f.field.Type)
		if keys := jsonKeys(f.field.Type); len(keys) > 0 {
			doc += " Keys: " + strings.Join(keys, ", ") + "."
		}
		desc, _ := json.Marshal(doc)
		def, err := json.Marshal(defaults.FieldByIndex(f.field.Index).Interface())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  %s:\n    type: %s\n", f.key, typ)
		if items != "" {
			fmt.Fprintf(&b, "    items:\n      type: %s\n", items)
		}
		fmt.Fprintf(&b, "    description: %s\n", desc)
		y, err := yaml.JSONToYAML(def)
		if err != nil {
			t.Fatal(err)
		}
		if typ == "string" || typ == "integer" || typ == "boolean" || strings.TrimSpace(string(y)) == "{}" {
			fmt.Fprintf(&b, "    default: %s", y)
			continue
		}
		b.WriteString("    default:\n")
		for _, line := range strings.SplitAfter(strings.TrimSuffix(string(y), "\n"), "\n") {
			b.WriteString("      " + line)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// schemaType is Pulumi's config type for a Go type, and its items' for a list.
func schemaType(t reflect.Type) (typ, items string) {
	switch t.Kind() {
	case reflect.String:
		return "string", ""
	case reflect.Bool:
		return "boolean", ""
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "integer", ""
	case reflect.Slice:
		elem, _ := schemaType(t.Elem())
		return "array", elem
	}
	return "object", ""
}

// jsonKeys lists an object's keys as a stack file writes them, the
// embedded specs' among them.
func jsonKeys(t reflect.Type) []string {
	if t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case f.Anonymous && name == "":
			keys = append(keys, jsonKeys(f.Type)...)
		case name == "-" || !f.IsExported():
		case name == "":
			keys = append(keys, f.Name)
		default:
			keys = append(keys, name)
		}
	}
	return keys
}

// fieldDocs reads the doc comments of a struct's fields from the package's
// source, one line each.
func fieldDocs(t *testing.T, file, typeName string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != typeName {
			return true
		}
		for _, field := range ts.Type.(*ast.StructType).Fields.List {
			for _, name := range field.Names {
				docs[name.Name] = strings.Join(strings.Fields(field.Doc.Text()), " ")
			}
		}
		return false
	})
	return docs
}
