package portal

import (
	"math"
	"regexp"
	"strconv"
	"testing"
)

// TestContrast: every text colour of the stylesheet against the page's
// background, and the buttons' white text against their colour, meet
// WCAG 2's AA contrast for normal text (4.5:1).
func TestContrast(t *testing.T) {
	css, err := static.ReadFile("static/portal.css")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z]+):\s*#([0-9a-f]{6}|[0-9a-f]{3})\b`).FindAllStringSubmatch(string(css), -1) {
		hex := m[2]
		if len(hex) == 3 { // #abc is #aabbcc
			hex = string([]byte{hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]})
		}
		vars[m[1]] = "#" + hex
	}
	pairs := [][2]string{{"fg", "bg"}, {"muted", "bg"}, {"accent", "bg"}, {"ok", "bg"}, {"bad", "bg"}, {"wait", "bg"}, {"unknown", "bg"}, {"white", "accent"}}
	vars["white"] = "#ffffff"
	for _, p := range pairs {
		fg, bg := vars[p[0]], vars[p[1]]
		if fg == "" || bg == "" {
			t.Fatalf("the stylesheet has no --%s or --%s", p[0], p[1])
		}
		if c := contrast(fg, bg); c < 4.5 {
			t.Errorf("--%s %s on --%s %s: contrast %.2f, want at least 4.5", p[0], fg, p[1], bg, c)
		}
	}
}

// contrast is WCAG 2's contrast ratio of two #rrggbb colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func luminance(hex string) float64 {
	channel := func(i int) float64 {
		v, _ := strconv.ParseUint(hex[i:i+2], 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*channel(1) + 0.7152*channel(3) + 0.0722*channel(5)
}

func TestContrastOfKnownPairs(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want float64
	}{{"#000000", "#ffffff", 21}, {"#ffffff", "#ffffff", 1}, {"#767676", "#ffffff", 4.54}} {
		if got := contrast(tc.a, tc.b); math.Abs(got-tc.want) > 0.01 {
			t.Errorf("contrast(%s, %s) = %.3f, want %.2f", tc.a, tc.b, got, tc.want)
		}
	}
}
