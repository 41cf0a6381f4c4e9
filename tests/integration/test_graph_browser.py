"""`netknit graph` in a real browser: Debian's chromium, driven through chromium-driver
(selenium). The page of a deployed netns lab shows every node and link; a link set down
in the kernel shows down within 3 s, being repaired while a repair holds the lab, and
up again once `watch` repaired it; the ``--offline`` file draws the same nodes and links.

selenium rather than ``chromium --dump-dom``: a page that follows the lab must be
watched while it lives; a new browser per look would measure chromium's start, not the
page.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Lab, run_cli
from .graph_served import Served, wait_for

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
if CHROMIUM is None or DRIVER is None:
    pytest.skip("needs Debian's chromium and chromium-driver (scripts/setup.sh --test)",
                allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver",
                                reason="needs selenium (pip install -e '.[test]')")

LAB = """
name: LAB
topology:
  nodes:
    r1: {kind: netns, group: core}
    h1: {kind: netns, group: edge}
    h2: {kind: netns, group: edge}
    brTAG: {kind: bridge}
  links:
    - endpoints: ["r1:eth1", "h1:eth1"]
      ipv4: ["10.71.1.1/24", "10.71.1.2/24"]
    - endpoints: ["r1:eth2", "h2:eth1"]
      ipv4: ["10.71.2.1/24", "10.71.2.2/24"]
    - endpoints: ["h2:eth2", "brTAG:pTAG-h2"]
"""

#: what the page must draw (TAG: the lab's token)
NODES = ["brTAG", "h1", "h2", "r1"]
LINKS = ["r1:eth1--h1:eth1", "r1:eth2--h2:eth1", "h2:eth2--brTAG:pTAG-h2"]

NODES_JS = "return [...document.querySelectorAll('g.node')].map(g => g.textContent)"
LINKS_JS = """return [...document.querySelectorAll('g.link')].map(g => [g.dataset.link,
  g.dataset.state, [...g.querySelectorAll('text.endpoint')].map(t => t.textContent)])"""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # root needs --no-sandbox; a profile of our own, removed with tmp_path
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,700",
                f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    try:
        yield driver
    finally:
        driver.quit()  # ends the chromedriver it started, and its browser


def drawn(browser: Any) -> tuple[list[str], dict[str, tuple[str, list[str]]]]:
    """The page's node names and its links (id -> state, interface labels)."""
    nodes = sorted(browser.execute_script(NODES_JS))
    links = {ln[0]: (ln[1], ln[2]) for ln in browser.execute_script(LINKS_JS)}
    return nodes, links


def link_state(browser: Any, link: str) -> str:
    return str(browser.execute_script(
        "return document.querySelector(`g.link[data-link='${arguments[0]}']`)"
        "?.dataset.state", link))


def test_page_follows_the_lab_and_the_offline_file_draws_the_same(lab: Lab,
                                                                   browser: Any) -> None:
    topo = str(lab.write(LAB))
    nodes = sorted(n.replace("TAG", lab.tag) for n in NODES)
    links = [ln.replace("TAG", lab.tag) for ln in LINKS]
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    served = Served(topo)
    watcher = None
    try:
        browser.get(served.url)
        # every node by its name; every link, labelled with its interfaces, up
        wait_for(lambda: drawn(browser)[0] == nodes, 20, f"nodes {nodes} drawn")
        page_links = wait_for(
            lambda: (d := drawn(browser)[1]) and all(s == "up" for s, _ in d.values()) and d,
            20, "every link up")
        assert sorted(page_links) == sorted(links)
        for link, (_, labels) in page_links.items():
            ends = [end.split(":")[1] for end in link.split("--")]
            assert labels == ends, link

        # a click on r1 shows its interfaces as the kernel has them
        mac = json.loads(subprocess.run(
            ["ip", "-j", "-n", f"clab-{lab.name}-r1", "link", "show", "eth1"],
            capture_output=True, text=True, check=True).stdout)[0]["address"]
        browser.execute_script("document.querySelector(\"g.node[data-node='r1']\")"
                               ".dispatchEvent(new MouseEvent('click', {bubbles: true}))")
        row = wait_for(lambda: browser.execute_script(
            "return document.querySelector(\"#details tr[data-iface='eth1']\")?.textContent"),
            5, "r1's interfaces shown")
        assert mac in row and "10.71.1.1/24" in row

        # down in the kernel: down on the page within 3 s
        subprocess.run(["ip", "-n", f"clab-{lab.name}-r1", "link", "set", "eth1", "down"],
                       check=True)
        wait_for(lambda: link_state(browser, links[0]) == "down", 3.0, "link shown down")
        assert link_state(browser, links[1]) == "up"

        # while a repair holds the lab (the lock reconcile and watch take), what differs
        # is shown being repaired; the links that are fine stay up
        from netknit.state import LabDir

        with LabDir(lab.dir / f"clab-{lab.name}").lock(lab.name, "reconcile"):
            wait_for(lambda: link_state(browser, links[0]) == "repairing", 3.0,
                     "link shown being repaired")
            assert link_state(browser, links[1]) == "up"
        wait_for(lambda: link_state(browser, links[0]) == "down", 3.0, "link down again")

        # watch repairs it: up on the page again
        watcher = subprocess.Popen([sys.executable, "-m", "netknit", "watch", "-t", topo],
                                   stderr=subprocess.PIPE, text=True)
        wait_for(lambda: link_state(browser, links[0]) == "up", 60, "link shown up again")
        ip_link = subprocess.run(["ip", "-n", f"clab-{lab.name}-r1", "link", "show", "eth1"],
                                 capture_output=True, text=True, check=True).stdout
        assert "state UP" in ip_link or ",UP" in ip_link
        live = drawn(browser)
    finally:
        if watcher is not None:
            watcher.send_signal(signal.SIGTERM)  # our own child, by pid
            _out, err = watcher.communicate(timeout=30)
            assert watcher.returncode == 0, err
        assert served.stop() == 0, "".join(served.stderr)

    # the --offline file: one file, nothing fetched, the same nodes and links
    offline = lab.dir / "page.html"
    made = run_cli("graph", "-t", topo, "--offline", "--output", str(offline))
    assert made.returncode == 0, made.stderr
    browser.get(offline.as_uri())
    wait_for(lambda: drawn(browser)[0] == live[0], 20, "offline nodes drawn")
    assert sorted(drawn(browser)[1]) == sorted(live[1])
    assert {lab_ for lab_, _ in drawn(browser)[1].values()} == {"N/A"}  # from the file
    assert run_cli("destroy", "-t", topo).returncode == 0


def test_exports_land_where_containerlab_puts_them(lab: Lab) -> None:
    topo = str(lab.write(LAB))
    for flag, where in (("--offline", f"clab-{lab.name}/graph/lab.clab.html"),
                        ("--mermaid", f"clab-{lab.name}/graph/lab.clab.mermaid"),
                        ("--dot", f"clab-{lab.name}/graph/lab.clab.dot"),
                        ("--drawio", "lab.clab.drawio")):
        made = run_cli("graph", "-t", topo, flag)
        assert made.returncode == 0, made.stderr
        assert (lab.dir / where).is_file(), (flag, made.stderr)
        assert str(lab.dir / where) in made.stderr.replace("\n", "")
    printed = run_cli("graph", "-t", topo, "--mermaid", "--output", "-",
                      "--node-filter", "r1,h1")
    assert printed.stdout.endswith("graph TD\n  r1---h1\n")  # only r1, h1 and their link
    both = run_cli("graph", "-t", topo, "--dot", "--drawio")
    assert both.returncode == 2 and "cannot be combined" in both.stderr
    unknown = run_cli("graph", "-t", topo, "--node-filter", "nope", "--dot")
    assert unknown.returncode == 2 and "no node 'nope'" in unknown.stderr
