// What `larix --help` and usage errors print.

export const USAGE = 'usage: larix [--store DIR] [--branch B] [--json] <command> [args]'

export const HELP = `larix: a Git-compatible, branchable key/value-tree store

${USAGE}

Commands:
  init                 create the store (set and tour create it too)
  get PATH             print the value at PATH, as JSON
  set PATH JSON        set PATH to a JSON value (JSON "-": read it from stdin)
  rm PATH              remove the value or directory at PATH
  ls [PATH]            list a directory (directories end in /)
  log [PATH]           the branch's commits, newest first; with PATH, those that changed it;
                       --graph: an ASCII graph of the history and its merges (git log --graph --oneline)
  branch [NAME]        list the branches (* marks --branch), or create NAME at the head of --branch
  fork FROM TO         create branch TO at FROM (a branch or a commit)
  merge FROM           merge FROM (a branch or a commit) into --branch, or into --into B: fast-forward,
                       up to date, or a merge commit; conflicts are listed path by path (exit status 1)
  revert COMMIT        a new commit on --branch that undoes what COMMIT changed (a merge: --mainline N)
  reset COMMIT         move --branch to COMMIT (rollback)
  show COMMIT          a commit and what it changed since its first parent
  clone URL DIR        a new store in DIR with the branches of the Git remote at URL (http://, https://,
                       git://, larix+tls://, ws://, wss://); --depth N: only the last N commits. The URL is remembered for pull and push
  pull [URL]           fetch the remote's branch named like --branch and merge it in with larix's mergers
                       (per key for JSON); conflicts are listed as merge lists them (exit status 1)
  push [URL]           push --branch to the remote branch of that name; if the remote moved, pull (merge)
                       first and push the merge; --force replaces the remote branch instead
  serve                serve the store to Git (git clone, fetch, pull, push) over smart HTTP (--http PORT,
                       default 8080 when no port is named; WebSocket on the same port), git:// (--git PORT)
                       and git over TLS (--git-tls PORT), until Ctrl-C
  replicate URL...     keep the store's branches (every one, or each --branch B given) in sync with the
                       peers at URL...: fetch, merge with larix's mergers, push; woken by local writes and
                       by the peers' watch channels (http(s)/ws(s) peers that are larix replicas), with a
                       safety-net poll every 30 s; backs off from peers that are down; --tls-ca/--tls-cert/
                       --tls-key for TLS peers; prints a line per change (--json: every status); Ctrl-C stops it
  tour                 a short guided tour on the store
  help                 this text

Options (before or after the command):
  --store DIR          the store, a LevelDB directory (default ./.larix)
  --backend level|git  what --store is: a LevelDB directory (default) or a real Git repository
  -b, --branch B       the branch to read and write (default main); replicate takes several
  --json               print one JSON document on stdout; errors as JSON on stderr
  -m, --message MSG    the commit message (set, rm, merge, revert)
  --author "N <E>"     the commit author (set, rm, merge, revert)
  -n, --limit N        at most N commits (log)
  --graph              draw the history as a graph (log)
  --into B             the branch to merge into, instead of --branch (merge)
  --no-ff              make a merge commit even when a fast-forward would do (merge)
  --dry-run            say what the merge would do and move no branch (merge)
  --mainline N         reverting a merge: keep parent N's side, undo the rest (revert)
  --depth N            fetch only the last N commits of each branch (clone, pull)
  --force              replace the remote branch even if that drops its commits (push)
  --http PORT          serve smart HTTP on PORT (0: any free port; printed) (serve)
  --git PORT           serve git:// on PORT, Git's daemon protocol (Git's own port is 9418) (serve)
  --git-tls PORT       serve larix+tls:// (git over TLS) on PORT; needs --tls-cert and --tls-key (serve)
  --tls-cert F --tls-key F   PEM certificate and key: serve's (its HTTP becomes HTTPS), or our client
                       certificate for larix+tls:// and wss:// (clone, pull, push)
  --tls-ca F           serve: accept only clients with a certificate this CA signed (mutual TLS);
                       clone, pull, push: the CA that signed the server's certificate
  --host H             the address serve listens on (default 127.0.0.1: this machine only)
  --token T            require tokens: read=T, read-write=T or T (read-write); repeatable; also
                       LARIX_TOKEN (serve; HTTP only, with the JSON API under /api/v1 and /healthz)
  --cors ORIGIN        let web pages of ORIGIN (https://host[:port], or *) call serve over http(s);
                       repeatable (serve)
  --no-clone-pack      send every clone object by object: keep no clone pack in the store (serve)
  -h, --help           this text
  -V, --version        the version of larix

A PATH is segments joined by "/", as in todo/42. A COMMIT is a full 40-hex id, a unique prefix of at
least 4 hex digits, or a branch name. A value is JSON, so a string needs quotes:
  larix set todo/1 '{"title": "buy milk"}'     larix set name '"Ann"'     larix set count -1
Put -- before other arguments that start with -.

Output: plain text for people; with --json, get prints the value, log an array of commits, set/rm
{ branch, commit, changed }, show { commit, changes }, ls [{ name, kind }], branch [{ name, head, current }],
merge { status, commit } or { status: "conflict", conflicts: [{ path, base, ours, theirs, reason }] },
revert { branch, commit, changed }; log --json ignores --graph (each commit lists its parents).

Merge conflicts: merge prints each conflicting path with its base, ours (the branch merged into) and
theirs (FROM) values, and exits with status 1 leaving the branch unchanged (with --json, the result on
stdout). A revert that conflicts with later commits is an error (LARIX_CONFLICT) and lists its conflicts
on stderr (with --json, in the error's "conflicts").

Remotes: clone, pull and push speak Git's smart protocol (v2 when the server offers it), so any Git
host, git http-backend or git daemon can be a remote. Progress goes to stderr on a terminal only
(LARIX_PROGRESS=1 forces it, =0 silences it). clone remembers URL in DIR/larix-remote.json.

Exit status: 0 done; 1 a larix error, printed as "larix: <message> (<code>)" on stderr
(with --json: {"error": {"code", "message"}}), or a merge that stopped on conflicts; 2 bad usage.
get of a missing key is an error too: exit status 1 with LARIX_NOT_FOUND on stderr and nothing on
stdout, also with --json (there is no null placeholder: null is a value a key can hold).
`

/** Commands of the design that this build does not offer yet. */
export function notYet(command: string): string {
  return `${command} is not available in this version yet (see larix --help)`
}
