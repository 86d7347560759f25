package redisadapter

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/sio-go/sio"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// MessagePack as notepack.io, the parser of Node's adapter, writes and reads
// it. Values cross as the plain values JSON has, plus binary:
//
//   - Going out, each argument is what sio would send a client: nil, bool,
//     strings, numbers, []byte, []any and map[string]any go as they are;
//     any other value goes through encoding/json first ([sio.NewArgs]), so
//     its json tags and MarshalJSON methods count, and the []byte values in
//     it (at any depth) stay binary. Integers (floats with no fraction
//     included, as in JavaScript) take the smallest int form, other numbers
//     float64, and []byte bin.
//   - Coming in, maps decode to map[string]any, arrays to []any, integers
//     to int64 (uint64 above that), floats to float64 (NaN and infinities,
//     which JSON cannot carry, to nil), bin to []byte, and a Date (the
//     timestamp extension) to the string JavaScript's toISOString gives,
//     which is what a Node server's clients receive.

// maxDepth bounds nesting, in both directions: a cyclic []any is an error,
// and a hostile message cannot exhaust the stack.
const maxDepth = 1000

var errTooDeep = errors.New("redisadapter: value nested too deeply")

// encoder wraps a msgpack.Encoder writing into its own buffer.
type encoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

var encoderPool = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = msgpack.NewEncoder(&e.buf)
	e.enc.UseCompactInts(true)
	return e
}}

func getEncoder() *encoder {
	e := encoderPool.Get().(*encoder)
	e.buf.Reset()
	return e
}

// bytes returns a copy of what was written and recycles e.
func (e *encoder) bytes() []byte {
	b := bytes.Clone(e.buf.Bytes())
	if e.buf.Cap() <= 64<<10 {
		encoderPool.Put(e)
	}
	return b
}

func (e *encoder) str(s string) error { return e.enc.EncodeString(s) }

// value writes v as described above.
func (e *encoder) value(v any, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	enc := e.enc
	switch v := v.(type) {
	case nil:
		return enc.EncodeNil()
	case bool:
		return enc.EncodeBool(v)
	case string:
		return enc.EncodeString(v)
	case []byte:
		if v == nil {
			return enc.EncodeNil()
		}
		return enc.EncodeBytes(v)
	case int:
		return enc.EncodeInt(int64(v))
	case int8:
		return enc.EncodeInt(int64(v))
	case int16:
		return enc.EncodeInt(int64(v))
	case int32:
		return enc.EncodeInt(int64(v))
	case int64:
		return enc.EncodeInt(v)
	case uint:
		return enc.EncodeUint(uint64(v))
	case uint8:
		return enc.EncodeUint(uint64(v))
	case uint16:
		return enc.EncodeUint(uint64(v))
	case uint32:
		return enc.EncodeUint(uint64(v))
	case uint64:
		return enc.EncodeUint(v)
	case float32:
		return e.float(float64(v))
	case float64:
		return e.float(v)
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return enc.EncodeInt(i)
		}
		if u, err := strconv.ParseUint(string(v), 10, 64); err == nil {
			return enc.EncodeUint(u)
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return fmt.Errorf("redisadapter: invalid number %q", string(v))
		}
		return e.float(f)
	case []any:
		if v == nil {
			return enc.EncodeNil()
		}
		if err := enc.EncodeArrayLen(len(v)); err != nil {
			return err
		}
		for _, x := range v {
			if err := e.value(x, depth+1); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		if v == nil {
			return enc.EncodeNil()
		}
		if err := enc.EncodeMapLen(len(v)); err != nil {
			return err
		}
		for k, x := range v {
			if err := enc.EncodeString(k); err != nil {
				return err
			}
			if err := e.value(x, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	// Anything else is encoded as sio would send it to a client.
	a, err := sio.NewArgs(v)
	if err != nil {
		return err
	}
	vals, err := a.Values()
	if err != nil {
		return err
	}
	if len(vals) != 1 {
		return enc.EncodeNil()
	}
	return e.value(vals[0], depth+1)
}

// float writes f as notepack does: an integer when it has no fraction and
// fits JavaScript's safe integers, float64 otherwise. NaN and infinities
// become nil, as JSON.stringify makes them null.
func (e *encoder) float(f float64) error {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return e.enc.EncodeNil()
	case f == math.Trunc(f) && math.Abs(f) <= 1<<53:
		return e.enc.EncodeInt(int64(f))
	}
	return e.enc.EncodeFloat64(f)
}

// decoder reads plain values, checking every length against what is left
// of the message.
type decoder struct {
	r   *bytes.Reader
	dec *msgpack.Decoder
}

func newDecoder(b []byte) *decoder {
	r := bytes.NewReader(b)
	return &decoder{r: r, dec: msgpack.NewDecoder(r)}
}

// decodeMsgpack decodes one whole value.
func decodeMsgpack(b []byte) (any, error) {
	d := newDecoder(b)
	return d.value(0)
}

var errShort = errors.New("redisadapter: truncated message")

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	dec := d.dec
	c, err := dec.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case msgpcode.IsFixedNum(c), c >= msgpcode.Int8 && c <= msgpcode.Int64:
		return dec.DecodeInt64()
	case c >= msgpcode.Uint8 && c <= msgpcode.Uint64:
		u, err := dec.DecodeUint64()
		if err != nil {
			return nil, err
		}
		if u <= math.MaxInt64 {
			return int64(u), nil
		}
		return u, nil
	case c == msgpcode.Float || c == msgpcode.Double:
		f, err := dec.DecodeFloat64()
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, err
		}
		return f, nil
	case c == msgpcode.Nil:
		return nil, dec.DecodeNil()
	case c == msgpcode.False || c == msgpcode.True:
		return dec.DecodeBool()
	case msgpcode.IsString(c):
		return dec.DecodeString()
	case msgpcode.IsBin(c):
		return dec.DecodeBytes()
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := dec.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		if n > d.r.Len() {
			return nil, errShort
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := dec.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		if 2*n > d.r.Len() {
			return nil, errShort
		}
		out := make(map[string]any, n)
		for range n {
			k, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			out[keyString(k)] = v
		}
		return out, nil
	case msgpcode.IsExt(c):
		id, n, err := dec.DecodeExtHeader()
		if err != nil {
			return nil, err
		}
		if n > d.r.Len() {
			return nil, errShort
		}
		data := make([]byte, n)
		if err := dec.ReadFull(data); err != nil {
			return nil, err
		}
		return extValue(id, data)
	}
	return nil, fmt.Errorf("redisadapter: unexpected MessagePack code 0x%02x", c)
}

// extValue decodes the extensions notepack.io writes or still reads: -1
// is a timestamp (a JavaScript Date), 0 with one byte is undefined, and 0
// otherwise an ArrayBuffer.
func extValue(id int8, data []byte) (any, error) {
	switch id {
	case -1:
		t, err := decodeTimestamp(data)
		if err != nil {
			return nil, err
		}
		return jsISOString(t), nil
	case 0:
		if len(data) == 1 {
			return nil, nil
		}
		return data, nil
	}
	return nil, nil // unknown extensions carry nothing JSON can say
}

func decodeTimestamp(b []byte) (time.Time, error) {
	switch len(b) {
	case 4:
		return time.Unix(int64(binary.BigEndian.Uint32(b)), 0), nil
	case 8:
		v := binary.BigEndian.Uint64(b)
		return time.Unix(int64(v&0x3ffffffff), int64(v>>34)), nil
	case 12:
		nsec := binary.BigEndian.Uint32(b)
		sec := int64(binary.BigEndian.Uint64(b[4:]))
		return time.Unix(sec, int64(nsec)), nil
	}
	return time.Time{}, fmt.Errorf("redisadapter: timestamp of %d bytes", len(b))
}

// jsISOString formats t as JavaScript's Date.prototype.toISOString does.
func jsISOString(t time.Time) string {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		sign := "+"
		if y < 0 {
			sign, y = "-", -y
		}
		return fmt.Sprintf("%s%06d%s", sign, y, t.Format("-01-02T15:04:05.000Z"))
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

// keyString turns a decoded map key into the string JavaScript would use.
func keyString(k any) string {
	switch k := k.(type) {
	case string:
		return k
	case nil:
		return "null"
	case []byte:
		return string(k)
	}
	return plainString(k)
}

// plainString formats a decoded scalar as JavaScript's String() would.
func plainString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case float64:
		b, _ := json.Marshal(v)
		return string(b)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

// stringList reads a list of room names, which Node sends as strings (a
// number is taken as its text).
func stringList(v any) []string {
	l, _ := v.([]any)
	if len(l) == 0 {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, x := range l {
		if x != nil {
			out = append(out, plainString(x))
		}
	}
	return out
}

// roomList is a JSON list of room names that takes numbers as their text.
type roomList []string

func (r *roomList) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*r = make([]string, 0, len(raw))
	for _, x := range raw {
		var s string
		if json.Unmarshal(x, &s) == nil {
			*r = append(*r, s)
			continue
		}
		var n json.Number
		if json.Unmarshal(x, &n) == nil {
			*r = append(*r, n.String())
		}
	}
	return nil
}

// MarshalJSON writes the list as [] when empty, never null, as Node does.
func (r roomList) MarshalJSON() ([]byte, error) {
	if r == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(r))
}
