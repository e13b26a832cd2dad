#!/bin/bash
# Installs what the side-by-side benches compare against, from Debian: Postfix (smtpd, plus its
# smtp-source/smtp-sink load tools) and Dovecot (IMAP and LMTP). Idempotent and non-interactive.
# The system services are never configured nor started: the benches run private instances on
# 127.0.0.1 high ports with configs generated under a temp dir (see smtp.ts and imap.ts beside this).
set -euo pipefail

if [ "$(id -u)" != 0 ]; then echo "setup.sh: run as root (apt-get)" >&2; exit 1; fi

need=()
for pkg in postfix dovecot-imapd dovecot-lmtpd; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done

if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # "No configuration": no /etc/postfix/main.cf, the system Postfix stays unconfigured.
  echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
  echo 'postfix postfix/mailname string bench.invalid' | debconf-set-selections
  # Keep the packages' own services (0.0.0.0:25, :143, :993) from starting during the install.
  added_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  trap '[ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get -o DPkg::Lock::Timeout=300 update
  apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${need[@]}"
fi

for bin in /usr/sbin/postfix /usr/sbin/smtp-source /usr/sbin/smtp-sink /usr/sbin/dovecot /usr/bin/doveadm; do
  [ -x "$bin" ] || { echo "setup.sh: $bin missing after install" >&2; exit 1; }
done
# The private instances run their mail processes as these package-made users.
id postfix >/dev/null && getent group postdrop >/dev/null && id dovecot >/dev/null && id dovenull >/dev/null
echo "setup.sh: postfix $(dpkg-query -W -f='${Version}' postfix), dovecot $(dpkg-query -W -f='${Version}' dovecot-imapd) ready"
