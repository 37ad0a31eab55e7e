#!/usr/bin/env bash
# dispa vs R/Bioconductor GSVA in one run: ssGSEA and GSVA (Gaussian kernel, mx.diff) on the GDSC2
# expression (580 cells x 706 genes) x all KEGG sets (pathways_kegg.gmt, min size 5).
#  1. installs R's GSVA (Debian r-bioc-gsva) when it is missing (needs root; a large install);
#  2. times R's gsva() call, serial (parallel.sz = 1; its parallel mode is slower), median of REPS;
#  3. times ours (bench/gsva_bench pathways/<method>: the same scope, matrix already in memory)
#     on THREADS OpenMP threads and on 1, median of REPS, and the whole `dispa pathways score`
#     command (reading, scoring, writing) once;
#  4. checks both give the same scores (per set Pearson >= 0.999, max |diff| <= 1e-3 for GSVA and
#     1e-4 for ssGSEA), then prints R time / our time per method.
# Usage: bench/compare_gsva_r.sh   (env: DISPA_SHARED=../shared, DISPA_BUILD_DIR=build, THREADS=2,
#        REPS=5). The build must have DISPA_BENCH=ON. Exit status 1 when the scores disagree.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${DISPA_SHARED:-../shared}
build=${DISPA_BUILD_DIR:-build}
threads=${THREADS:-2}
reps=${REPS:-5}
expr="$shared/data/gdsc2/expression.tsv"
gmt="$shared/data/gdsc2/pathways_kegg.gmt"
[[ -f $expr && -f $gmt ]] || { echo "compare_gsva_r: $expr or $gmt not found (set DISPA_SHARED)" >&2; exit 2; }

if ! Rscript -e 'suppressPackageStartupMessages(library(GSVA))' >/dev/null 2>&1; then
  echo "compare_gsva_r: installing r-bioc-gsva (apt-get) ..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq r-bioc-gsva >/dev/null
fi
cmake --build "$build" --target dispa gsva_bench >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- R: scores and serial timings ------------------------------------------------------------
Rscript - "$expr" "$gmt" "$work" "$reps" <<'EOF'
suppressPackageStartupMessages(library(GSVA))
a <- commandArgs(trailingOnly = TRUE); reps <- as.integer(a[4])
df <- read.delim(a[1], check.names = FALSE, quote = "", colClasses = "character")
expr <- t(matrix(as.numeric(as.matrix(df[, -1])), nrow(df), dimnames = list(df$cell_id, colnames(df)[-1])))
f <- strsplit(readLines(a[2]), "\t", fixed = TRUE)
gsets <- lapply(f, function(x) x[-(1:2)]); names(gsets) <- sapply(f, `[`, 1)
run <- list(
  ssgsea = function() gsva(expr, gsets, method = "ssgsea", min.sz = 5, max.sz = Inf, tau = 0.25,
                           ssgsea.norm = TRUE, verbose = FALSE, parallel.sz = 1),
  gsva = function() gsva(expr, gsets, method = "gsva", kcdf = "Gaussian", mx.diff = TRUE,
                         abs.ranking = FALSE, min.sz = 5, max.sz = Inf, verbose = FALSE, parallel.sz = 1))
for (m in names(run)) {
  quiet <- function(f) { r <- NULL; invisible(capture.output(r <- suppressMessages(suppressWarnings(f())))); r }
  es <- quiet(run[[m]])  # warm-up, and the scores to compare
  out <- cbind(cell_id = colnames(es), formatC(t(es), digits = 15, format = "fg"))
  out <- trimws(out)
  write.table(out, file.path(a[3], paste0("r_", m, ".tsv")), sep = "\t", quote = FALSE, row.names = FALSE)
  t <- replicate(reps, { s <- system.time(quiet(run[[m]])); c(s[["elapsed"]], s[["user.self"]] + s[["sys.self"]]) })
  cat(m, median(t[1, ]) * 1000, median(t[2, ]) * 1000, "\n", file = file.path(a[3], "r_times.txt"), append = TRUE)
}
EOF

# --- ours: scores (the CLI) and timings ------------------------------------------------------
cli_ms=()
for m in ssgsea gsva; do
  start=$(date +%s%N)
  OMP_NUM_THREADS=$threads "$build/tools/dispa" pathways score --quiet --expression "$expr" --gmt "$gmt" \
    --method "$m" --min-size 5 --out "$work/ours_$m.tsv"
  cli_ms+=("$(( ($(date +%s%N) - start) / 1000000 ))")
done
# Median wall time per method, in ms, of bench/gsva_bench on $1 threads.
our_times() {
  OMP_NUM_THREADS=$1 DISPA_SHARED="$shared" "$build/bench/gsva_bench" \
    --benchmark_filter='^pathways/(ssgsea|gsva)$' --benchmark_repetitions="$reps" \
    --benchmark_report_aggregates_only=true --benchmark_format=csv 2>/dev/null \
    | awk -F, '/_median"?,/ { gsub(/"/, "", $1); sub(/pathways\//, "", $1); sub(/_median/, "", $1);
                               u = $5; gsub(/"/, "", u); t = $3; if (u == "us") t /= 1000; if (u == "s") t *= 1000;
                               print $1, t }'
}
our_times "$threads" > "$work/our_times.txt"
our_times 1 > "$work/our_times_1.txt"

# --- agreement (in R, reading both tables) -----------------------------------------------------
Rscript - "$work" <<'EOF'
w <- commandArgs(trailingOnly = TRUE)[1]
ok <- TRUE
for (m in c("ssgsea", "gsva")) {
  rd <- function(p) as.matrix(read.delim(p, row.names = 1, check.names = FALSE))
  r <- rd(file.path(w, paste0("r_", m, ".tsv"))); o <- rd(file.path(w, paste0("ours_", m, ".tsv")))
  if (!identical(dimnames(r), dimnames(o))) { cat(m, ": sets or cells differ\n"); ok <- FALSE; next }
  d <- max(abs(r - o)); p <- min(sapply(seq_len(ncol(r)), function(j) cor(r[, j], o[, j])))
  tol <- if (m == "gsva") 1e-3 else 1e-4
  cat(sprintf("agreement %-6s: %d cells x %d sets, max |diff| %.3g, min per-set Pearson %.10f -> %s\n",
              m, nrow(r), ncol(r), d, p, if (d <= tol && p >= 0.999) "OK" else "DIFFERENT"))
  ok <- ok && d <= tol && p >= 0.999
}
if (!ok) quit(status = 1)
EOF

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); medians of $reps runs"
echo "R: serial gsva() (elapsed and its CPU time); dispa: the same scope in memory on $threads threads and on 1;"
echo "R elapsed >> R CPU means the machine was shared, which slows our threaded run more than R's serial one."
printf "%-7s %11s %11s %14s %14s %11s %11s %11s\n" method "R ms" "R CPU ms" "dispa ${threads}T ms" "dispa 1T ms" \
  "R/dispa ${threads}T" "R/dispa 1T" "CLI ms"
i=0
for m in ssgsea gsva; do
  read -r r rc < <(awk -v m="$m" '$1 == m { print $2, $3 }' "$work/r_times.txt")
  o=$(awk -v m="$m" '$1 == m { print $2 }' "$work/our_times.txt")
  o1=$(awk -v m="$m" '$1 == m { print $2 }' "$work/our_times_1.txt")
  awk -v m="$m" -v r="$r" -v rc="$rc" -v o="$o" -v o1="$o1" -v c="${cli_ms[$i]}" \
    'BEGIN { printf "%-7s %11.0f %11.0f %14.1f %14.1f %10.1fx %10.1fx %11d\n", m, r, rc, o, o1, r / o, r / o1, c }'
  i=$((i + 1))
done
