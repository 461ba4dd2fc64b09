package cli

import (
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/chorusdev/chorus/codec"
	"github.com/chorusdev/chorus/history"
)

// payloadCodec is the codec that decodes payloads for output: zstd always
// (compression hides nothing), and AES-GCM with the keyring of --keys or,
// without it, of $CHORUS_KEYS. Without keys, encrypted payloads print as
// "<encrypted: key K>". A keyring that does not read is a usage error
// naming the file or the variable, never showing key material.
func payloadCodec(cmd *cobra.Command) (history.PayloadCodec, error) {
	file, _ := cmd.Flags().GetString("keys")
	var keys *codec.Keyring
	var err error
	switch {
	case file != "":
		keys, err = codec.LoadKeyring(file)
	case strings.TrimSpace(os.Getenv(codec.DefaultKeysEnv)) != "":
		keys, err = codec.KeyringFromEnv(codec.DefaultKeysEnv)
	default:
		return codec.Zstd(), nil
	}
	if err != nil {
		return nil, usagef("%v", err)
	}
	return codec.Chain(codec.Zstd(), codec.AESGCM(keys)), nil
}
