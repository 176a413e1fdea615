package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"calm/scratch"
)

// errNotJSON is a drafts file that cannot be read back; keeping a draft
// writes over it.
var errNotJSON = errors.New("not JSON")

// Drafts, the text typed in a prompt and not sent, are kept in a file
// (Options.DraftsFile) as they are typed, so quitting, a closed terminal or
// a dropped ssh session loses none of it; the next start brings them back
// into their prompts. The file holds a JSON object: prompt label to text.

// loadDrafts reads the drafts kept by an earlier run.
func (u *UI) loadDrafts() error {
	if u.opts.DraftsFile == "" {
		return nil
	}
	kept, err := readDrafts(u.opts.DraftsFile)
	for label, text := range kept {
		u.drafts[label] = text
	}
	return err
}

func readDrafts(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return map[string]string{}, fmt.Errorf("unsent drafts: %w", err)
	}
	kept := map[string]string{}
	if err := json.Unmarshal(data, &kept); err != nil {
		return map[string]string{}, fmt.Errorf("unsent drafts: %s is %w (%v): the next draft kept replaces it", path, errNotJSON, err)
	}
	return kept, nil
}

// setDraft records what is typed at label ("" drops it) and keeps it.
func (u *UI) setDraft(label, text string) {
	if _, prompt, _ := strings.Cut(label, "\t"); fleeting[prompt] {
		return
	}
	if text == "" {
		delete(u.drafts, label)
	} else {
		u.drafts[label] = text
	}
	if u.opts.DraftsFile == "" {
		return
	}
	u.draftsTouched[label] = true
	u.draftsErr = u.saveDrafts()
}

// saveDrafts writes the drafts this run touched over what the file holds:
// another calm (calm split's pane and a terminal of its own) keeps its own.
func (u *UI) saveDrafts() error {
	path := u.opts.DraftsFile
	kept, err := readDrafts(path)
	if err != nil && !errors.Is(err, errNotJSON) {
		return err
	}
	for label := range u.draftsTouched {
		if text, ok := u.drafts[label]; ok {
			kept[label] = text
		} else {
			delete(kept, label)
		}
	}
	if len(kept) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("unsent drafts: %w", err)
		}
		return nil
	}
	data, _ := json.Marshal(kept)
	// A new file renamed over the old: a crash leaves one or the other.
	tmp, temp, err := scratch.CreateTemp(filepath.Dir(path), ".drafts-*")
	if err != nil {
		return fmt.Errorf("unsent drafts: %w", err)
	}
	defer temp.Remove() // once renamed, there is nothing left to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("unsent drafts: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("unsent drafts: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("unsent drafts: %w", err)
	}
	return nil
}

// promptOpen reports whether the bottom row is a prompt being typed in.
func (u *UI) promptOpen() bool {
	name, _ := u.bottom.GetFrontPage()
	return name == "prompt"
}

// draftsKept says, for the quit dialog, which unsent text is kept or that
// it could not be; "" when there is none.
func (u *UI) draftsKept() string {
	if u.promptOpen() {
		u.setDraft(u.promptKey, u.prompt.GetText())
	}
	if len(u.drafts) == 0 {
		return ""
	}
	var names []string
	for key := range u.drafts {
		_, label, found := strings.Cut(key, "\t")
		if !found {
			label = key
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(label, ": "), " (")
		names = append(names, name)
	}
	slices.Sort(names)
	what, is, them, each := "Your unsent "+names[0], "is", "it", "it"
	if len(names) > 1 {
		what = "Your unsent " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
		is, them, each = "are", "them", "each"
	}
	if u.opts.DraftsFile == "" {
		return what + " " + is + " lost if you quit: Stay to send " + them + "."
	}
	if u.draftsErr != nil {
		return what + " could NOT be kept (" + u.draftsErr.Error() + "): Stay to send " + them + "."
	}
	return what + " " + is + " kept: " + each + " comes back in its prompt next time."
}
