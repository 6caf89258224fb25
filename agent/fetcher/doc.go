// Package fetcher downloads a command's URIs (CommandInfo.uris) into an
// executor's sandbox before the executor starts, as Mesos' fetcher
// (src/slave/containerizer/fetcher.cpp and mesos-fetcher) does, inside
// the agent process.
//
// # What a URI becomes
//
//   - http:// and https:// URIs are downloaded; file:// URIs and absolute
//     paths are copied from the local file system, when the container's
//     user may read them (mode bits of the file and its directories);
//   - the file is stored in the sandbox under the URI's base name, or under
//     URI.output_file, which must stay inside the sandbox;
//   - URI.executable makes the file executable (mode 0755) and skips
//     extraction;
//   - URI.extract (default true) unpacks archives named .tar, .tar.gz,
//     .tgz, .tar.bz2, .tbz2, .tar.xz, .txz and .zip into the sandbox, and
//     decompresses a plain .gz file next to it. Fetched directly, the
//     archive itself stays; from the cache, only its content lands in the
//     sandbox (as in Mesos). An entry whose path would land outside the
//     sandbox (absolute, "..", or through a symbolic link) fails the fetch,
//     and so does an archive that would write more than Config.Extract
//     allows (Limits: bytes and entries per archive, checked against the
//     sizes it declares before writing and counted as it writes).
//
// Every error names the URI it concerns ("Failed to fetch '<uri>': ...").
// A failed URI leaves nothing of its own in the sandbox: downloads go to
// a temporary file renamed into place, and what an extraction created is
// removed again.
//
// # Retries and stalls
//
// An http(s) download that fails for a transient reason (connection
// refused or reset, a 5xx answer, a body cut short) is tried again, up to
// Config.Attempts (4) times in all, after 1s, 2s and 4s (Config.Backoff).
// Any other answer than 200 OK below 500 (404, 403, ...) fails at once.
// A download that receives nothing for Config.StallTimeout
// (--fetcher_stall_timeout; waiting for the headers counts) is aborted
// and fails, naming the stall, without retry.
//
// # The cache
//
// A URI with cache=true goes through the cache (--fetcher_cache_dir,
// bounded by --fetcher_cache_size), keyed by user and URI as in Mesos: the
// same URI fetched for two users is downloaded twice. Layout:
//
//	<fetcher_cache_dir>/
//	  .lock                  flock(2)ed by the agent using the directory
//	  .partial/              downloads under way; emptied at start
//	  <user>/<hash>/data     a downloaded URI
//	  <user>/<hash>/entry.json  its user, URI, size; mtime = last use
//
// The first fetch of a key starts its download; fetches of the same key
// that come while it runs wait for it (one download, however many tasks),
// and later ones copy (or extract) from the cache:
//
//	fetch ──▶ acquire(key) ──┬─ missing: download ─▶ .partial/ ─▶ commit ─▶ <user>/<hash>
//	                         ├─ downloading: wait ────────────────────────┘
//	                         └─ cached ──────────────▶ copy / extract into the sandbox
//
// Space is reserved when the size is known (Content-Length, a local
// file's size) and at the end of the download otherwise; the least
// recently used entries that no fetch holds are evicted to make room. A
// file larger than the whole cache, or that cannot fit because the
// entries in use fill it, is handed to the fetches waiting for it and
// deleted, never kept. A failed download is shared by the fetches that
// waited for it and leaves nothing behind; an entry whose archive cannot
// be extracted is deleted, so the next fetch downloads it again.
//
// Unlike Mesos, which empties the cache at every agent start, the cache
// survives restarts: New discards the partial downloads and re-indexes
// the complete entries, in their order of last use.
//
// # The sandbox log
//
// Fetch appends its progress to the sandbox's stderr before the executor
// starts ("Fetching URI '<uri>'", "Fetching '<uri>' directly into the
// sandbox directory", "Fetching URI '<uri>' from cache", retries,
// "Fetched '<uri>' to '<path>'", the error), as mesos-fetcher's log does.
package fetcher
