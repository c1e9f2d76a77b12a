"""Action template files are read with Keel's bounded YAML loader: an alias bomb is refused."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from keel.actions.templates import LoadProblem, parse_template_file

BOMB = """type: action
definition:
  name: bomb
  namespace: tools.bomb
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def test_an_alias_bomb_in_a_template_is_a_load_problem_naming_its_line(tmp_path: Path) -> None:
    file = tmp_path / "bomb.yml"
    file.write_text(BOMB)
    tracemalloc.start()
    try:
        loaded = parse_template_file(file)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(loaded, LoadProblem)
    assert f"{file}:9" in str(loaded)
    assert "KEEL_YAML_ALIAS_NODES" in str(loaded)
    assert peak < 20 * 1024 * 1024, f"peak {peak:,} bytes"
