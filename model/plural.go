package model

import (
	"strconv"
	"strings"
)

// Plural says "1 device", "3 devices", "2 copies", "2 matches": the one
// way every message counts things.
func Plural(n int, noun string) string {
	if n == 1 {
		return strconv.Itoa(n) + " " + noun
	}
	return strconv.Itoa(n) + " " + pluralOf(noun)
}

// IsAre says "1 capture is" or "3 captures are".
func IsAre(n int, noun string) string {
	if n == 1 {
		return Plural(n, noun) + " is"
	}
	return Plural(n, noun) + " are"
}

// pluralOf is the plural of an English noun as calm uses them (its last
// word, for "verified copy" or "S3 copy").
func pluralOf(noun string) string {
	switch {
	case strings.HasSuffix(noun, "y") && len(noun) > 1 && !strings.ContainsRune("aeiou", rune(noun[len(noun)-2])):
		return noun[:len(noun)-1] + "ies"
	case strings.HasSuffix(noun, "s"), strings.HasSuffix(noun, "x"), strings.HasSuffix(noun, "ch"), strings.HasSuffix(noun, "sh"):
		return noun + "es"
	}
	return noun + "s"
}
