
# The lock file every command reads, in the cards folder (store/lock.py parses it). Here, not in
# lock.py, so that reading the command line imports no YAML.
LOCK_FILE = "store.lock.json"
