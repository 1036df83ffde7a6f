package curatedapi

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/alloy/syntax"

	"github.com/grafana/alloy/curated/internal/rules"
)

// referenceDoc is the component's reference documentation.
func referenceDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/loki.source.curated_api.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestEveryRuleKindIsExposed: each kind of rule the core has is reachable
// from the component's arguments. rulesConfigText sets every rule block;
// a kind whose block is missing, or that rulesConfig does not convert,
// leaves its field of rules.Config unset.
func TestEveryRuleKindIsExposed(t *testing.T) {
	var args Arguments
	if err := syntax.Unmarshal([]byte(rulesConfigText), &args); err != nil {
		t.Fatal(err)
	}
	cfg, err := args.rulesConfig()
	if err != nil {
		t.Fatal(err)
	}
	v := reflect.ValueOf(cfg)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("rules.Config.%s is set by no block: add its block (arguments.go, rules.go) and set it in rulesConfigText",
				v.Type().Field(i).Name)
		}
	}
}

// TestEveryArgumentIsDocumented: every attribute and block of the
// component, nested ones included, has its row or heading in the reference
// doc.
func TestEveryArgumentIsDocumented(t *testing.T) {
	doc := referenceDoc(t)
	seen := map[reflect.Type]bool{}
	var walk func(typ reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag := f.Tag.Get("alloy")
			name, kind, _ := strings.Cut(tag, ",")
			if name == "" { // a block's label, or a squashed struct
				continue
			}
			q := regexp.QuoteMeta(name)
			// A table row, a heading, or a row of the Blocks table.
			documented := regexp.MustCompile("(?m)^\\| `" + q + "` +\\||^#+ `" + q + "`|^#+ `[a-z_]+` and `" + q + "`|^\\| .*> \\[?`" + q + "`").MatchString(doc)
			if !documented {
				t.Errorf("%s%s (%s) is not in docs/loki.source.curated_api.md: add its table row or heading", path, name, kind)
			}
			if strings.HasPrefix(kind, "block") {
				walk(f.Type, path+name+".")
			}
		}
	}
	walk(reflect.TypeOf(Arguments{}), "")
}

// TestDocsListTheRunOrder: the reference doc's numbered list of rule blocks
// follows the core's run order (rules.KindNames; hash_fields belong to the
// redact block).
func TestDocsListTheRunOrder(t *testing.T) {
	doc := referenceDoc(t)
	_, list, ok := strings.Cut(doc, "For each valid event they run in this order:\n")
	if !ok {
		t.Fatal("the reference doc no longer says in which order the rules run")
	}
	list, _, _ = strings.Cut(list, "\n\n")
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^1\\. `([a-z_]+)`").FindAllStringSubmatch(list, -1) {
		documented = append(documented, m[1])
	}
	var blocks []string
	for _, k := range rules.KindNames() {
		if k == "hash" {
			k = "redact" // hash_fields is an argument of the redact block
		}
		if len(blocks) == 0 || blocks[len(blocks)-1] != k {
			blocks = append(blocks, k)
		}
	}
	if !slices.Equal(documented, blocks) {
		t.Errorf("the reference doc lists %v; the rules run %v", documented, blocks)
	}
}
