"""User errors are one line, whatever the parsers they quote or the file names they show contain."""

from DTCSegmentationLib.errors import DTCError


def test_line_breaks_in_the_message_and_fix_become_spaces():
    assert str(DTCError("bad magic line: NRRD0004: 0\n.", "a.nrrd", "Fix\r\nit.")) == \
        "a.nrrd: bad magic line: NRRD0004: 0 . Fix: Fix it."


def test_a_file_name_with_a_line_break_is_shown_escaped():
    assert str(DTCError("is empty.", "two\nlines.seq.nrrd")) == "'two\\nlines.seq.nrrd': is empty."
