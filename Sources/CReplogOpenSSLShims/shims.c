#include "CReplogOpenSSLShims.h"

#include <openssl/err.h>
#include <openssl/ec.h>
#include <openssl/x509v3.h>

long replog_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
int replog_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
int replog_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}
int replog_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) {
    return (int)SSL_CTX_set1_groups_list(ctx, list);
}
uint64_t replog_SSL_CTX_set_options(SSL_CTX *ctx, uint64_t options) { return SSL_CTX_set_options(ctx, options); }
int replog_SSL_set_tlsext_host_name(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
X509 *replog_SSL_get_peer_certificate(const SSL *ssl) { return SSL_get1_peer_certificate(ssl); }

long replog_BIO_get_mem_ptr(BIO *bio, BUF_MEM **out) { return BIO_get_mem_ptr(bio, out); }
size_t replog_BIO_pending(BIO *bio) { return BIO_ctrl_pending(bio); }
long replog_BIO_set_mem_eof_return(BIO *bio, int value) { return BIO_set_mem_eof_return(bio, value); }

void replog_BIO_set_retry_read(BIO *bio) { BIO_set_retry_read(bio); }
void replog_BIO_clear_retry_flags(BIO *bio) { BIO_clear_retry_flags(bio); }

int replog_ERR_GET_LIB(unsigned long code) { return ERR_GET_LIB(code); }
int replog_ERR_GET_REASON(unsigned long code) { return ERR_GET_REASON(code); }

EVP_PKEY *replog_generate_p256_key(void) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    EVP_PKEY *key = NULL;
    if (ctx == NULL) return NULL;
    if (EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1) <= 0 ||
        EVP_PKEY_keygen(ctx, &key) <= 0) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return key;
}

int replog_general_names_count(const GENERAL_NAMES *names) { return sk_GENERAL_NAME_num(names); }
const GENERAL_NAME *replog_general_names_value(const GENERAL_NAMES *names, int index) {
    return sk_GENERAL_NAME_value(names, index);
}

const uint64_t replog_SSL_OP_NO_COMPRESSION = SSL_OP_NO_COMPRESSION;
const uint64_t replog_SSL_OP_NO_RENEGOTIATION = SSL_OP_NO_RENEGOTIATION;
const uint64_t replog_SSL_OP_CIPHER_SERVER_PREFERENCE = SSL_OP_CIPHER_SERVER_PREFERENCE;
const uint64_t replog_SSL_OP_NO_TICKET = SSL_OP_NO_TICKET;
const uint64_t replog_SSL_OP_IGNORE_UNEXPECTED_EOF = SSL_OP_IGNORE_UNEXPECTED_EOF;
const uint64_t replog_SSL_OP_ALL = SSL_OP_ALL;

const long replog_SSL_MODE_RELEASE_BUFFERS = SSL_MODE_RELEASE_BUFFERS;
const long replog_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER = SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
const long replog_SSL_MODE_AUTO_RETRY = SSL_MODE_AUTO_RETRY;

const int replog_TLS1_2_VERSION = TLS1_2_VERSION;
const int replog_TLS1_3_VERSION = TLS1_3_VERSION;

int replog_general_name_get(const GENERAL_NAME *name, const unsigned char **data, int *length) {
    const ASN1_STRING *string = NULL;
    switch (name->type) {
    case GEN_DNS: string = name->d.dNSName; break;
    case GEN_URI: string = name->d.uniformResourceIdentifier; break;
    case GEN_IPADD: string = name->d.iPAddress; break;
    case GEN_EMAIL: string = name->d.rfc822Name; break;
    default: break;
    }
    *data = string ? ASN1_STRING_get0_data(string) : NULL;
    *length = string ? ASN1_STRING_length(string) : 0;
    return name->type;
}

void replog_OPENSSL_free(void *pointer) { OPENSSL_free(pointer); }

const unsigned long replog_XN_FLAG_ONELINE = XN_FLAG_ONELINE;
const int replog_GEN_DNS = GEN_DNS;
const int replog_GEN_URI = GEN_URI;
const int replog_GEN_IPADD = GEN_IPADD;
const int replog_MBSTRING_UTF8 = MBSTRING_UTF8;
