/*
 * A software GM/T 0018 SDF library for SealTrust's tests: the same C ABI as a
 * cipher machine, SM2 from OpenSSL libcrypto, keys in files.
 *
 *   SOFTSDF_DIR/sign_<index>.pem  SM2 private key (PKCS#8 PEM, unencrypted)
 *   SOFTSDF_DIR/sign_<index>.pin  its access password (raw bytes)
 *   SOFTSDF_DIR/fault             test-only fault injection: a number N; the
 *                                 next N signatures succeed, then every
 *                                 SDF_InternalSign_ECC fails with SDR_HARDFAIL
 *                                 until the file is removed.
 *
 * Not a product: the access password is compared in plain, keys are not
 * protected at rest. It exists so the ctypes path, the struct layouts and the
 * error paths of hsm_adapters.sdf run for real.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sdf.h"

#define MAX_KEYS 64
#define MAX_PIN 256

typedef struct {
    char dir[PATH_MAX];
} Device;

typedef struct {
    Device *device;
    EVP_PKEY *keys[MAX_KEYS + 1]; /* loaded on access right, index 1..MAX_KEYS */
} Session;

static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;

static int key_path(const Device *d, unsigned int index, const char *ext, char *out) {
    int n = snprintf(out, PATH_MAX, "%s/sign_%u.%s", d->dir, index, ext);
    return n > 0 && n < PATH_MAX;
}

static EVP_PKEY *load_key(const Device *d, unsigned int index) {
    char path[PATH_MAX];
    if (!key_path(d, index, "pem", path)) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (key && !EVP_PKEY_is_a(key, "SM2")) {
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

/* 1 when the device must fail this signature (fault file at 0), else 0. */
static int fault_now(const Device *d) {
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/fault", d->dir);
    if (n <= 0 || n >= (int)sizeof path) return 0;
    int fail = 0;
    pthread_mutex_lock(&fault_lock);
    FILE *f = fopen(path, "r+");
    if (f) {
        long left = 0;
        if (fscanf(f, "%ld", &left) == 1 && left > 0) {
            rewind(f);
            fprintf(f, "%ld          \n", left - 1);
        } else {
            fail = 1;
        }
        fclose(f);
    }
    pthread_mutex_unlock(&fault_lock);
    return fail;
}

int SDF_OpenDevice(void **phDeviceHandle) {
    if (!phDeviceHandle) return SDR_INARGERR;
    const char *dir = getenv("SOFTSDF_DIR");
    if (!dir || !*dir || strlen(dir) >= PATH_MAX) return SDR_OPENDEVICE;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return SDR_OPENDEVICE;
    Device *d = calloc(1, sizeof *d);
    if (!d) return SDR_UNKNOWERR;
    strcpy(d->dir, dir);
    *phDeviceHandle = d;
    return SDR_OK;
}

int SDF_CloseDevice(void *hDeviceHandle) {
    if (!hDeviceHandle) return SDR_INARGERR;
    free(hDeviceHandle);
    return SDR_OK;
}

int SDF_OpenSession(void *hDeviceHandle, void **phSessionHandle) {
    if (!hDeviceHandle || !phSessionHandle) return SDR_INARGERR;
    Session *s = calloc(1, sizeof *s);
    if (!s) return SDR_OPENSESSION;
    s->device = hDeviceHandle;
    *phSessionHandle = s;
    return SDR_OK;
}

int SDF_CloseSession(void *hSessionHandle) {
    Session *s = hSessionHandle;
    if (!s) return SDR_INARGERR;
    for (int i = 0; i <= MAX_KEYS; i++) EVP_PKEY_free(s->keys[i]);
    free(s);
    return SDR_OK;
}

int SDF_GetPrivateKeyAccessRight(void *hSessionHandle, unsigned int uiKeyIndex,
                                 unsigned char *pucPassword, unsigned int uiPwdLength) {
    Session *s = hSessionHandle;
    if (!s || !pucPassword || uiPwdLength == 0 || uiPwdLength > MAX_PIN) return SDR_INARGERR;
    if (uiKeyIndex < 1 || uiKeyIndex > MAX_KEYS) return SDR_KEYNOTEXIST;
    char path[PATH_MAX];
    unsigned char pin[MAX_PIN + 1];
    if (!key_path(s->device, uiKeyIndex, "pin", path)) return SDR_KEYNOTEXIST;
    FILE *f = fopen(path, "rb");
    if (!f) return SDR_KEYNOTEXIST;
    size_t len = fread(pin, 1, sizeof pin, f);
    fclose(f);
    while (len > 0 && (pin[len - 1] == '\n' || pin[len - 1] == '\r')) len--;
    if (len != uiPwdLength || memcmp(pin, pucPassword, len) != 0) return SDR_PARDENY;
    EVP_PKEY *key = load_key(s->device, uiKeyIndex);
    if (!key) return SDR_KEYNOTEXIST;
    EVP_PKEY_free(s->keys[uiKeyIndex]);
    s->keys[uiKeyIndex] = key;
    return SDR_OK;
}

int SDF_ReleasePrivateKeyAccessRight(void *hSessionHandle, unsigned int uiKeyIndex) {
    Session *s = hSessionHandle;
    if (!s) return SDR_INARGERR;
    if (uiKeyIndex < 1 || uiKeyIndex > MAX_KEYS) return SDR_KEYNOTEXIST;
    EVP_PKEY_free(s->keys[uiKeyIndex]);
    s->keys[uiKeyIndex] = NULL;
    return SDR_OK;
}

int SDF_ExportSignPublicKey_ECC(void *hSessionHandle, unsigned int uiKeyIndex,
                                ECCrefPublicKey *pucPublicKey) {
    Session *s = hSessionHandle;
    if (!s || !pucPublicKey) return SDR_INARGERR;
    if (uiKeyIndex < 1 || uiKeyIndex > MAX_KEYS) return SDR_KEYNOTEXIST;
    EVP_PKEY *key = load_key(s->device, uiKeyIndex);
    if (!key) return SDR_KEYNOTEXIST;
    unsigned char point[65];
    size_t len = 0;
    int ok = EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point,
                                             &len);
    EVP_PKEY_free(key);
    if (!ok || len != 65 || point[0] != 0x04) return SDR_UNKNOWERR;
    memset(pucPublicKey, 0, sizeof *pucPublicKey);
    pucPublicKey->bits = 256;
    memcpy(pucPublicKey->x + ECCref_MAX_LEN - 32, point + 1, 32);
    memcpy(pucPublicKey->y + ECCref_MAX_LEN - 32, point + 33, 32);
    return SDR_OK;
}

int SDF_InternalSign_ECC(void *hSessionHandle, unsigned int uiISKIndex,
                         unsigned char *pucData, unsigned int uiDataLength,
                         ECCSignature *pucSignature) {
    Session *s = hSessionHandle;
    if (!s || !pucData || !pucSignature || uiDataLength != 32) return SDR_INARGERR;
    if (uiISKIndex < 1 || uiISKIndex > MAX_KEYS) return SDR_KEYNOTEXIST;
    EVP_PKEY *key = s->keys[uiISKIndex];
    if (!key) return SDR_PARDENY;
    if (fault_now(s->device)) return SDR_HARDFAIL;

    int rc = SDR_SIGNERR;
    unsigned char der[80];
    size_t der_len = sizeof der;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    ECDSA_SIG *sig = NULL;
    /* The SM2 provider signs tbs as the digest e itself: exactly SDF's contract. */
    if (ctx && EVP_PKEY_sign_init(ctx) == 1 &&
        EVP_PKEY_sign(ctx, der, &der_len, pucData, uiDataLength) == 1) {
        const unsigned char *p = der;
        sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    }
    if (sig) {
        memset(pucSignature, 0, sizeof *pucSignature);
        const BIGNUM *r = NULL, *sv = NULL;
        ECDSA_SIG_get0(sig, &r, &sv);
        if (BN_bn2binpad(r, pucSignature->r + ECCref_MAX_LEN - 32, 32) == 32 &&
            BN_bn2binpad(sv, pucSignature->s + ECCref_MAX_LEN - 32, 32) == 32)
            rc = SDR_OK;
        ECDSA_SIG_free(sig);
    }
    EVP_PKEY_CTX_free(ctx);
    return rc;
}
