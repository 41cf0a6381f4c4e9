"""PyYAML imported through netknit._pyyaml: the pure-Python reader's pattern is compiled
on first use, and everything of PyYAML behaves as imported plainly."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHECK = textwrap.dedent("""
    import re
    compile_before = re.compile
    from netknit._pyyaml import yaml
    assert re.compile is compile_before  # put back
    reader = yaml.reader.Reader
    assert type(reader.NON_PRINTABLE).__name__ == "_CompiledOnUse"
    # the pure-Python loader, which uses the pattern: a control character is refused
    try:
        yaml.load("a: \\x07", Loader=yaml.SafeLoader)
    except yaml.reader.ReaderError:
        pass
    else:
        raise AssertionError("not refused")
    assert yaml.load("a: [1, x]", Loader=yaml.SafeLoader) == {"a": [1, "x"]}
    assert yaml.load("a: 1", Loader=yaml.CSafeLoader) == {"a": 1}
    assert reader.NON_PRINTABLE.search("ok\\x01").start() == 2
    print("ok")
""")


def test_pyyaml_works_with_the_reader_pattern_compiled_on_use() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"
