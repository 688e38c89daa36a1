/*
 * A software GM/T 0018 SDF library for SealTrust's tests: the same C ABI as a
 * cipher machine, SM2 from OpenSSL libcrypto, keys in files.
 *
 *   SOFTSDF_DIR/sign_<index>.pem  SM2 private key (PKCS#8 PEM, unencrypted)
 *   SOFTSDF_DIR/sign_<index>.pin  its access password (raw bytes)
 *   SOFTSDF_DIR/kek_<index>.key   an internal SM4 key-encryption key (16 raw bytes)
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
#include <openssl/rand.h>

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

/* --- SM4 session keys under internal KEKs ---------------------------------------------- */

#define KEY_MAGIC 0x534D3421u

typedef struct {
    unsigned int magic;
    unsigned char key[16];
} SymKey;

static int load_kek(const Device *d, unsigned int index, unsigned char kek[16]) {
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/kek_%u.key", d->dir, index);
    if (n <= 0 || n >= (int)sizeof path) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(kek, 1, 16, f);
    fclose(f);
    return got == 16;
}

/* One SM4 pass without padding; mode "SM4-ECB" or "SM4-CBC"; len a multiple of 16. */
static int sm4(const char *mode, int enc, const unsigned char *key, const unsigned char *iv,
               const unsigned char *in, unsigned int len, unsigned char *out) {
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, mode, NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ok = 0, outl = 0, tail = 0;
    if (cipher && ctx && EVP_CipherInit_ex2(ctx, cipher, key, iv, enc, NULL) == 1 &&
        EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
        EVP_CipherUpdate(ctx, out, &outl, in, (int)len) == 1 &&
        EVP_CipherFinal_ex(ctx, out + outl, &tail) == 1 && (unsigned int)(outl + tail) == len)
        ok = 1;
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(cipher);
    return ok;
}

static SymKey *new_handle(const unsigned char key[16]) {
    SymKey *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->magic = KEY_MAGIC;
    memcpy(k->key, key, 16);
    return k;
}

static SymKey *handle_of(void *h) {
    SymKey *k = h;
    return k && k->magic == KEY_MAGIC ? k : NULL;
}

int SDF_GenerateKeyWithKEK(void *hSessionHandle, unsigned int uiKeyBits, unsigned int uiAlgID,
                           unsigned int uiKEKIndex, unsigned char *pucKey,
                           unsigned int *puiKeyLength, void **phKeyHandle) {
    Session *s = hSessionHandle;
    if (!s || !pucKey || !puiKeyLength || !phKeyHandle || uiKeyBits != 128) return SDR_INARGERR;
    if (uiAlgID != SGD_SM4_ECB) return SDR_ALGNOTSUPPORT;
    unsigned char kek[16], key[16];
    if (!load_kek(s->device, uiKEKIndex, kek)) return SDR_KEYNOTEXIST;
    if (RAND_bytes(key, 16) != 1 || !sm4("SM4-ECB", 1, kek, NULL, key, 16, pucKey))
        return SDR_UNKNOWERR;
    SymKey *k = new_handle(key);
    if (!k) return SDR_UNKNOWERR;
    *puiKeyLength = 16;
    *phKeyHandle = k;
    return SDR_OK;
}

int SDF_ImportKeyWithKEK(void *hSessionHandle, unsigned int uiAlgID, unsigned int uiKEKIndex,
                         unsigned char *pucKey, unsigned int uiKeyLength, void **phKeyHandle) {
    Session *s = hSessionHandle;
    if (!s || !pucKey || !phKeyHandle || uiKeyLength != 16) return SDR_INARGERR;
    if (uiAlgID != SGD_SM4_ECB) return SDR_ALGNOTSUPPORT;
    unsigned char kek[16], key[16];
    if (!load_kek(s->device, uiKEKIndex, kek)) return SDR_KEYNOTEXIST;
    if (!sm4("SM4-ECB", 0, kek, NULL, pucKey, 16, key)) return SDR_UNKNOWERR;
    SymKey *k = new_handle(key);
    if (!k) return SDR_UNKNOWERR;
    *phKeyHandle = k;
    return SDR_OK;
}

int SDF_DestroyKey(void *hSessionHandle, void *hKeyHandle) {
    SymKey *k = handle_of(hKeyHandle);
    if (!hSessionHandle || !k) return SDR_INARGERR;
    memset(k, 0, sizeof *k);
    free(k);
    return SDR_OK;
}

static int cbc(void *hSessionHandle, void *hKeyHandle, unsigned int uiAlgID, int enc,
               unsigned char *pucIV, unsigned char *in, unsigned int len, unsigned char *out,
               unsigned int *outLen) {
    SymKey *k = handle_of(hKeyHandle);
    if (!hSessionHandle || !k || !pucIV || !in || !out || !outLen || len == 0 || len % 16)
        return SDR_INARGERR;
    if (uiAlgID != SGD_SM4_CBC) return SDR_ALGNOTSUPPORT;
    if (!sm4("SM4-CBC", enc, k->key, pucIV, in, len, out)) return SDR_UNKNOWERR;
    /* GM/T 0018: the IV is updated to the last ciphertext block. */
    memcpy(pucIV, enc ? out + len - 16 : in + len - 16, 16);
    *outLen = len;
    return SDR_OK;
}

int SDF_Encrypt(void *hSessionHandle, void *hKeyHandle, unsigned int uiAlgID,
                unsigned char *pucIV, unsigned char *pucData, unsigned int uiDataLength,
                unsigned char *pucEncData, unsigned int *puiEncDataLength) {
    return cbc(hSessionHandle, hKeyHandle, uiAlgID, 1, pucIV, pucData, uiDataLength,
               pucEncData, puiEncDataLength);
}

int SDF_Decrypt(void *hSessionHandle, void *hKeyHandle, unsigned int uiAlgID,
                unsigned char *pucIV, unsigned char *pucEncData, unsigned int uiEncDataLength,
                unsigned char *pucData, unsigned int *puiDataLength) {
    return cbc(hSessionHandle, hKeyHandle, uiAlgID, 0, pucIV, pucEncData, uiEncDataLength,
               pucData, puiDataLength);
}

int SDF_CalculateMAC(void *hSessionHandle, void *hKeyHandle, unsigned int uiAlgID,
                     unsigned char *pucIV, unsigned char *pucData, unsigned int uiDataLength,
                     unsigned char *pucMAC, unsigned int *puiMACLength) {
    SymKey *k = handle_of(hKeyHandle);
    if (!hSessionHandle || !k || !pucIV || !pucData || !pucMAC || !puiMACLength ||
        uiDataLength == 0 || uiDataLength % 16 || uiDataLength > 65536)
        return SDR_INARGERR;
    if (uiAlgID != SGD_SM4_MAC) return SDR_ALGNOTSUPPORT;
    unsigned char *out = malloc(uiDataLength);
    if (!out) return SDR_UNKNOWERR;
    int ok = sm4("SM4-CBC", 1, k->key, pucIV, pucData, uiDataLength, out);
    if (ok) memcpy(pucMAC, out + uiDataLength - 16, 16);
    free(out);
    if (!ok) return SDR_UNKNOWERR;
    *puiMACLength = 16;
    return SDR_OK;
}
