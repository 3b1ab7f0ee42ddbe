"""The help screen: what each screen is for and its keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# cosmos-tui

Post-train Cosmos world models: pick a model, log in to Hugging Face, check a dataset, set up a
run, launch it, and watch it. Everything here has a headless command; each screen shows it.

## Runs (home)
| key | does | command |
|---|---|---|
| `n` | new run wizard | `cosmos-tui run PRESET` |
| `enter` | open the run's dashboard | `cosmos-tui runs show ID` |
| `space` | select a run to compare | |
| `c` | compare loss of the selected runs | |
| `j` | the run's job: every run on it, lineage, the whole curve | `cosmos-tui jobs show ID` |
| `r` | refresh now | `cosmos-tui runs list` |

## Job
| key | does | command |
|---|---|---|
| `enter` | open the run's dashboard | `cosmos-tui runs show ID` |
| `y` | show the equivalent commands | `cosmos-tui jobs show ID` |
| `escape` | back | |

## Dashboard
| key | does | command |
|---|---|---|
| `s` | stop a live run (the engine saves first) | `cosmos-tui runs stop ID` |
| `w` | save a checkpoint now (live runs only) | `touch JOB_DIR/SAVE_NOW` |
| `R` | resume an ended run from its latest checkpoint | `cosmos-tui runs resume ID` |
| `e` | export the latest checkpoint (asks where) | `cosmos-tui ckpt export ID --out DIR` |
| `p` | prune old checkpoints | `cosmos-tui ckpt prune ID --keep-last 2` |
| `enter` | on a checkpoint: verify, export, pin/unpin, copy its path | `cosmos-tui ckpt verify ID --iter N` |
| `o` | open the preset | `cosmos-tui runs show ID` |
| `y` | show the equivalent commands | |
| `/` | search the whole console.log; `n` / `N` next / previous match | `grep -n TEXT console.log` |
| `E` | jump to the log's first error | |
| `f` / `l` | follow the log (or go back to it), level filter | `cosmos-tui runs logs ID -f` |
| `z` / `c` | wrap long lines, short log prefix | |
| `escape` | close the search, then back to the runs | |

## Everywhere
`ctrl+p` command palette · `?` this help · `q` quit (runs keep going; they live on disk).
"""


class HelpScreen(ModalScreen[None]):
    """Keys and commands for every screen."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    """Any of these closes the help."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP)
