// Package uaf is the vmspop accounts file: the gateway's equivalent of the
// OpenVMS SYSUAF as far as the POP server uses it (management guide §15.1.5).
// It holds, for each user, a bcrypt password hash, an optional shared
// secret for APOP (RFC 1939 §7) and CRAM-MD5 (RFC 2195), the DISUSER and
// DISMAIL flags, and an expiration date.
//
// # File format
//
// The file is text, one account per line. Blank lines and lines whose first
// non-blank character is '#' are ignored. An account line is a list of
// colon-separated fields:
//
//	NAME:HASH[:apop=SECRET][:flags=FLAGS][:expires=YYYY-MM-DD][:logindelay=DURATION][:grants=GRANTS][:vms=ALG,SALT,HASH[,PWDMIX]]
//
// for example
//
//	SMITH:$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy:apop=dGFuc3RhYWY=:flags=DISMAIL:expires=2027-01-31
//	JONES:$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy
//
// where:
//
//   - NAME matches ^[A-Za-z0-9_$-]{1,31}$ and is stored upper case; each name
//     appears once, compared case-insensitively.
//   - HASH is a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters), or empty
//     when the account has no password (password logins then always fail).
//   - apop= is the APOP / CRAM-MD5 shared secret in standard base64 with
//     padding. It has to be stored recoverably, because both mechanisms need
//     the secret itself; this is why the file is kept at mode 0600. An empty
//     value, like a missing field, means no secret.
//   - flags= is a comma-separated list of DISUSER and DISMAIL (any case); an
//     empty value means none.
//   - expires= is a calendar date. The account may be used through the end
//     of that day and is expired from midnight, local time, at the start of
//     the following day. A missing field means the account never expires.
//   - logindelay= is the least time between two logins of the account (a Go
//     duration such as 5m, at most 24h); it overrides TCPIP$POP_LOGIN_DELAY.
//   - grants= lists the users who may open the account's folders
//     (~OWNER/FOLDER#USER): USER/read or USER/read+delete, comma-separated.
//   - vms= is an OpenVMS password hash imported from SYSUAF ("vmspop uaf
//     import"; [VMSHash]): the Purdy algorithm (1, 2 or 3), the salt (4 hex
//     digits), the hash (16 hex digits) and PWDMIX for a case-sensitive
//     password. It is used only while HASH is empty: the first login with the
//     right password writes a bcrypt HASH and drops it.
//
// The key=value fields may come in any order, each at most once. Anything
// else (an unknown key, a bad name, hash, date, flag or base64 string, a
// duplicate account, a line longer than 64 KiB) makes [Parse] refuse the whole
// file with an error naming the file and line: a corrupt line never grants
// access, and a half-read file never silently drops accounts.
//
// [DB.WriteFile] writes the file atomically (a temporary file in the same
// directory, fsync, rename, fsync of the directory) with mode 0600 whatever
// the umask, keeping the owner of the file it replaces. Comments of the old
// file are not preserved. Concurrent writers serialise with [Lock], an
// flock(2) on FILE.lock.
//
// # Authentication
//
// [Store] keeps the parsed file in memory and reloads it when the file
// changes. Its Check methods verify a credential first and only then look at
// DISUSER, DISMAIL and the expiration date, so that the state of an account
// is never disclosed to someone who does not hold its password or secret.
// An unknown user still costs one bcrypt comparison, so that response time
// does not tell which user names exist.
//
// Verified passwords are cached for five minutes (see [Store.CheckPassword])
// because bcrypt is deliberately slow and POP clients poll every minute.
package uaf
