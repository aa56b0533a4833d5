#!/bin/sh
# The IMAP polling tests start a throw-away Dovecot (tests/channels_inbox/dovecot.py): Debian's dovecot-imapd.
# Installing the package enables a system service; the tests never use it (their own config, port and maildir).
set -eu
if [ -x /usr/sbin/dovecot ]; then exit 0; fi
echo "Installing Debian's dovecot-imapd for the IMAP polling tests…"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dovecot-imapd >/dev/null
test -x /usr/sbin/dovecot || { echo "dovecot did not install: run 'apt-get install -y dovecot-imapd'" >&2; exit 1; }
