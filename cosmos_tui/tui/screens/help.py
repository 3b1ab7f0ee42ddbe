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
| `Q` | the run queue (its entries show here as `queued`, place and wait) | `cosmos-tui queue list` |
| `/` | filter by id, experiment, job, model or status (`escape` clears) | |
| `s` | sort: started, status, iteration | |
| `d` | delete the run's record and logs (asks first) | `cosmos-tui runs rm ID --yes` |
| `D` | delete it with the outputs no other run needs (asks first) | `cosmos-tui runs rm ID --outputs --yes` |
| `R` | rerun: a new run, same preset and overrides (asks first) | `cosmos-tui runs rerun ID` |
| `r` | refresh now | `cosmos-tui runs list` |
| `y` | show the equivalent commands | |

## Queue
| key | does | command |
|---|---|---|
| `shift+up` / `shift+down` | move the entry earlier / later | `cosmos-tui queue move ID --before ID` |
| `x` | cancel the entry | `cosmos-tui queue cancel ID` |
| `p` | pause the queue (running runs go on), or resume it | `cosmos-tui queue pause` |
| `o` | overlay the loss curves of the entry's sweep | `cosmos-tui sweep show ID` |
| `a` | also list entries that started, failed or were cancelled | `cosmos-tui queue list --all` |
| `r` | refresh now | `cosmos-tui queue list` |
| `escape` | back | |

## Job
| key | does | command |
|---|---|---|
| `enter` | open the run's dashboard | `cosmos-tui runs show ID` |
| `r` | refresh now | `cosmos-tui jobs show ID` |
| `y` | show the equivalent commands | `cosmos-tui jobs show ID` |
| `S` | the job's samples, one prompt over its checkpoints | `cosmos-tui samples list` |
| `escape` | back | |

## Dashboard
| key | does | command |
|---|---|---|
| `s` | stop a live run (the engine saves first) | `cosmos-tui runs stop ID` |
| `w` | save a checkpoint now (live runs only) | `touch JOB_DIR/SAVE_NOW` |
| `R` | resume an ended run from its latest checkpoint | `cosmos-tui runs resume ID` |
| `e` | export the latest checkpoint (asks where) | `cosmos-tui ckpt export ID --out DIR` |
| `p` | prune old checkpoints | `cosmos-tui ckpt prune ID --keep-last 2` |
| `o` | open the preset | `cosmos-tui runs show ID` |
| `y` | show the equivalent commands | |
| `S` | the job's samples, one prompt over its checkpoints | `cosmos-tui samples list` |
| `/` / `n` / `N` | search the whole log; next / previous match | `cosmos-tui runs logs ID --grep TEXT` |
| `E` | jump to the log's first error | |
| `f` / `l` | follow the log (or go back to it), level filter | `cosmos-tui runs logs ID -f` |
| `z` / `c` | wrap long lines, short log prefix | |
| `m` | chart the next metric: loss, learning rate, grad norm, samples/s, tokens/s, memory | |
| `Z` | smooth the chart (EMA) or show the raw points | |
| `escape` | close the search, then back to the runs | |

Enter on a checkpoint row: verify, export it, pin/unpin, copy its path (`cosmos-tui ckpt verify ID`).

## Samples
| key | does | command |
|---|---|---|
| ↑ / ↓ | pick a prompt and seed (the rows on the left) | |
| `left` / `right` | pick a checkpoint (a column: base, then each iteration) | |
| `p` / `enter` | play that sample's mp4 in your player (`xdg-open`, `open`) | |
| `n` | sample the latest checkpoint (and the base) | `cosmos-tui samples new ID --iter latest --base` |
| `r` | refresh now | `cosmos-tui samples list` |
| `y` | show the equivalent commands | |
| `escape` | back | |

Images are drawn with Kitty graphics or Sixel where the terminal has them, half-blocks elsewhere;
`COSMOS_TUI_IMAGES=halfcell` (or `tgp`, `sixel`, `unicode`) picks one.

## Dialogs
| key | does | command |
|---|---|---|
| `y` | yes: do what the dialog asks (delete, stop, replace), whichever button has the focus | |
| `n` / `escape` | cancel | |

`enter` presses the focused button; a dialog that deletes or stops starts on Cancel, so a stray
`enter` does nothing. In a list of choices (rerun, a checkpoint's actions) `↑`/`↓` move and
`enter` picks; `n` / `escape` cancel.

## Everywhere
`ctrl+p` command palette (its Screenshot is saved under the state folder's `screenshots/`) ·
`ctrl+n` new run · `?` this help · `q` quit (runs keep going; they live on disk).
"""


class HelpScreen(ModalScreen[None]):
    """Keys and commands for every screen."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    """Any of these closes the help."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP)
