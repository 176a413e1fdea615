// Package terminal is calm's model of a terminal session, shared by
// everything that records, stores or shows one (capture, storage, ui,
// report): the emulator that turns output into the lines a person saw, their
// styles, and the asciicast format a session is kept in, read and written.
package terminal
