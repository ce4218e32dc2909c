// Out-of-line wrappers for the OpenSSL macros (and variadic or inline helpers) that Swift cannot import.
#ifndef REPLOG_OPENSSL_SHIMS_H
#define REPLOG_OPENSSL_SHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

long replog_SSL_CTX_set_mode(SSL_CTX *ctx, long mode);
int replog_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version);
int replog_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version);
int replog_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list);
uint64_t replog_SSL_CTX_set_options(SSL_CTX *ctx, uint64_t options);
int replog_SSL_set_tlsext_host_name(SSL *ssl, const char *name);
X509 *replog_SSL_get_peer_certificate(const SSL *ssl);

long replog_BIO_get_mem_ptr(BIO *bio, BUF_MEM **out);
size_t replog_BIO_pending(BIO *bio);
long replog_BIO_set_mem_eof_return(BIO *bio, int value);

void replog_BIO_set_retry_read(BIO *bio);
void replog_BIO_clear_retry_flags(BIO *bio);

int replog_ERR_GET_LIB(unsigned long code);
int replog_ERR_GET_REASON(unsigned long code);

/// A new P-256 key pair, or NULL (error queue set).
EVP_PKEY *replog_generate_p256_key(void);

/// Number of entries in a STACK_OF(GENERAL_NAME) and the entry at `index`.
int replog_general_names_count(const GENERAL_NAMES *names);
const GENERAL_NAME *replog_general_names_value(const GENERAL_NAMES *names, int index);

/// The type (GEN_DNS, GEN_URI, GEN_IPADD, ...) and raw bytes of a general name.
int replog_general_name_get(const GENERAL_NAME *name, const unsigned char **data, int *length);

void replog_OPENSSL_free(void *pointer);

extern const unsigned long replog_XN_FLAG_ONELINE;
extern const int replog_MBSTRING_UTF8;
extern const int replog_GEN_DNS;
extern const int replog_GEN_URI;
extern const int replog_GEN_IPADD;

// Every SSL_OP_* constant replog uses, as values (some are macros built from SSL_OP_BIT).
extern const uint64_t replog_SSL_OP_NO_COMPRESSION;
extern const uint64_t replog_SSL_OP_NO_RENEGOTIATION;
extern const uint64_t replog_SSL_OP_CIPHER_SERVER_PREFERENCE;
extern const uint64_t replog_SSL_OP_NO_TICKET;
extern const uint64_t replog_SSL_OP_IGNORE_UNEXPECTED_EOF;
extern const uint64_t replog_SSL_OP_ALL;

extern const long replog_SSL_MODE_RELEASE_BUFFERS;
extern const long replog_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
extern const long replog_SSL_MODE_AUTO_RETRY;

extern const int replog_TLS1_2_VERSION;
extern const int replog_TLS1_3_VERSION;

#endif
