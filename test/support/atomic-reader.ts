/**
 * A reader for the tests that prove a file is replaced atomically: run as
 * `bash -c ATOMIC_READER reader FILE SHA_A SHA_B STOP COUNT`, it hashes FILE over and over until
 * STOP exists (or 10 minutes pass), writes how many reads it has made to COUNT after each one (so
 * the writer can wait for reads rather than for time), and prints
 * "<reads> <bad reads> <saw a> <saw b>": a bad read is one of neither version.
 */
export const ATOMIC_READER = `n=0; bad=0; sa=0; sb=0; end=$((SECONDS + 600))
while [ ! -e "$4" ] && [ "$SECONDS" -lt "$end" ]; do
  h=$(sha256sum < "$1" 2>/dev/null); h=\${h%% *}
  if [ "$h" = "$2" ]; then sa=1; elif [ "$h" = "$3" ]; then sb=1; else bad=$((bad + 1)); fi
  n=$((n + 1))
  echo "$n" > "$5"
done
echo "$n $bad $sa $sb"`;
