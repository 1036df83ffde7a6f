package event

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// docs/api.md's "Error codes" table is the clients' list of codes: every
// code the API defines is in it, and every code in it exists.
func TestCodesMatchTheAPIDocs(t *testing.T) {
	section := apiDocSection(t, "Error codes")
	var documented []Code
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(section, -1) {
		documented = append(documented, Code(m[1]))
	}
	defined := Codes()
	for _, c := range defined {
		if !slices.Contains(documented, c) {
			t.Errorf("code %q is not in docs/api.md's table", c)
		}
	}
	for _, c := range documented {
		if !slices.Contains(defined, c) {
			t.Errorf("docs/api.md lists %q, which the API does not define", c)
		}
	}
	seen := map[Code]bool{}
	for _, c := range defined {
		if seen[c] {
			t.Errorf("code %q listed twice", c)
		}
		seen[c] = true
	}
}

// apiDocSection is the text under docs/api.md's "### heading", up to the
// next "## " heading.
func apiDocSection(t *testing.T, heading string) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "### "+heading+"\n")
	if !ok {
		t.Fatalf(`docs/api.md has no "### %s" section`, heading)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	return section
}

// TestCodesListsEveryDeclaredCode: a Code constant declared in codes.go but
// left out of Codes() would be missing from the docs check above, from the
// metrics' reason labels and from the SDKs' lists.
func TestCodesListsEveryDeclaredCode(t *testing.T) {
	file, err := parser.ParseFile(token.NewFileSet(), "codes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []Code
	for _, d := range file.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for _, v := range vs.Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok {
					t.Fatalf("a Code constant that is not a string literal: %#v", v)
				}
				s, _ := strconv.Unquote(lit.Value)
				declared = append(declared, Code(s))
			}
		}
	}
	listed := Codes()
	slices.Sort(declared)
	slices.Sort(listed)
	if !slices.Equal(declared, listed) {
		t.Errorf("codes.go declares %v; Codes() lists %v", declared, listed)
	}
}
