#ifndef LITEPROOF_CSSH2_SHIM_H
#define LITEPROOF_CSSH2_SHIM_H
#include <libssh2.h>
#include <libssh2_sftp.h>

// libssh2's convenience names are macros over its `_ex` functions; exposed as functions for Swift.

/// libssh2_session_init(): a session with libssh2's default allocators.
static inline LIBSSH2_SESSION *liteproof_ssh2_session_init(void) { return libssh2_session_init_ex(NULL, NULL, NULL, NULL); }

/// libssh2_session_disconnect(): says goodbye to the server before the socket is closed.
static inline int liteproof_ssh2_session_disconnect(LIBSSH2_SESSION *s, const char *reason) {
    return libssh2_session_disconnect_ex(s, SSH_DISCONNECT_BY_APPLICATION, reason, "");
}

/// libssh2_sftp_open(): opens a remote file for reading.
static inline LIBSSH2_SFTP_HANDLE *liteproof_sftp_open_read(LIBSSH2_SFTP *sftp, const char *path, unsigned int len) {
    return libssh2_sftp_open_ex(sftp, path, len, LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE);
}

/// libssh2_sftp_opendir(): opens a remote folder for listing.
static inline LIBSSH2_SFTP_HANDLE *liteproof_sftp_opendir(LIBSSH2_SFTP *sftp, const char *path, unsigned int len) {
    return libssh2_sftp_open_ex(sftp, path, len, 0, 0, LIBSSH2_SFTP_OPENDIR);
}

/// libssh2_sftp_stat(): the attributes of a path, following links.
static inline int liteproof_sftp_stat(LIBSSH2_SFTP *sftp, const char *path, unsigned int len, LIBSSH2_SFTP_ATTRIBUTES *attrs) {
    return libssh2_sftp_stat_ex(sftp, path, len, LIBSSH2_SFTP_STAT, attrs);
}

/// libssh2_sftp_close(): closes a file or folder handle.
static inline int liteproof_sftp_close(LIBSSH2_SFTP_HANDLE *h) { return libssh2_sftp_close_handle(h); }

/// libssh2_userauth_password(): password authentication.
static inline int liteproof_ssh2_password(LIBSSH2_SESSION *s, const char *user, unsigned int userlen, const char *password,
                                          unsigned int passwordlen) {
    return libssh2_userauth_password_ex(s, user, userlen, password, passwordlen, NULL);
}

/// libssh2_userauth_publickey_fromfile(): public key authentication with a private key file
/// (the public half derived from it when `pubkey` is NULL).
static inline int liteproof_ssh2_publickey_fromfile(LIBSSH2_SESSION *s, const char *user, unsigned int userlen, const char *pubkey,
                                                    const char *privkey, const char *passphrase) {
    return libssh2_userauth_publickey_fromfile_ex(s, user, userlen, pubkey, privkey, passphrase);
}

/// libssh2_knownhost_init/readfile in OpenSSH's known_hosts format.
static inline int liteproof_ssh2_knownhost_readfile(LIBSSH2_KNOWNHOSTS *hosts, const char *file) {
    return libssh2_knownhost_readfile(hosts, file, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
}

/// The SFTP file-type bits of a permissions field (S_IFMT), for regular files and folders.
static inline int liteproof_sftp_is_reg(unsigned long perms) { return LIBSSH2_SFTP_S_ISREG(perms); }
static inline int liteproof_sftp_is_dir(unsigned long perms) { return LIBSSH2_SFTP_S_ISDIR(perms); }
#endif
