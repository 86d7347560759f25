package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// chromiumPath is the Chromium that playwright-core drives, Debian's by
// default ($SIO_CHROMIUM overrides it): the tests download no browser.
func chromiumPath() string {
	if p := os.Getenv("SIO_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// TestBrowser runs the page in headless Chromium, four people in four
// browsers, against each router: alice (polling, then WebSocket: the
// default), bob (WebSocket only) and dave (long-polling only) in room
// lobby, carol in room patio. They chat, see who types and who is there;
// then the server restarts on the same port and the pages carry on by
// themselves. Screenshots go to e2e/screenshots/<test name>/.
func TestBrowser(t *testing.T) {
	needBundle(t)
	needNode(t)
	if _, err := os.Stat(chromiumPath()); err != nil {
		skipOrFail(t, "%s not found; install Debian's chromium package (or set SIO_CHROMIUM) to run the browser tests", chromiumPath())
	}
	for _, router := range []string{"std", "chi"} {
		t.Run(router, func(t *testing.T) { testBrowser(t, router) })
	}
}

func testBrowser(t *testing.T, router string) {
	srv := startServer(t, router)
	b := startBrowser(t, srv.URL())

	b.open("alice", "")
	b.open("bob", "?transport=websocket")
	b.open("carol", "")
	b.open("dave", "?transport=polling")
	b.screenshot("alice", "login")

	t.Log("alice and bob join lobby, carol patio")
	b.login("alice", "lobby")
	b.login("bob", "lobby")
	b.waitUsers("alice", "alice", "bob")
	b.waitUsers("bob", "alice", "bob")
	b.waitText("alice", "#messages", "bob joined")
	b.login("carol", "patio")
	b.waitUsers("carol", "carol")
	b.waitStatus("alice", "connected over websocket") // upgraded
	b.waitStatus("bob", "connected over websocket")

	t.Log("bob types: alice sees it, and sees it stop after two quiet seconds")
	b.typeText("bob", "hello al")
	b.waitTyping("alice", "bob is typing...")
	b.checkNoTyping("carol")
	b.screenshot("alice", "bob-typing")
	b.waitTyping("alice", "")

	t.Log("alice and bob chat")
	b.send("bob", "hello alice")
	b.waitMessage("alice", "bob", "hello alice")
	b.send("alice", "hi bob!")
	b.waitMessage("bob", "alice", "hi bob!")

	t.Log("dave, on long-polling, chats with bob, on WebSocket")
	b.login("dave", "lobby")
	b.waitStatus("dave", "connected over polling")
	for _, p := range []string{"alice", "bob", "dave"} {
		b.waitUsers(p, "alice", "bob", "dave")
	}
	b.typeText("dave", "hey")
	b.waitTyping("bob", "dave is typing...")
	b.checkNoTyping("carol")
	b.screenshot("bob", "dave-typing")
	b.send("dave", "hello from long-polling")
	b.waitMessage("bob", "dave", "hello from long-polling")
	b.waitMessage("alice", "dave", "hello from long-polling")
	b.waitTyping("bob", "") // a message ends the typing notice
	b.send("bob", "welcome, dave")
	b.waitMessage("dave", "bob", "welcome, dave")
	b.waitMessage("alice", "bob", "welcome, dave")

	t.Log("carol, in patio, saw none of it")
	// Her own message's acknowledgement comes after anything the server
	// sent her before: a round trip.
	b.send("carol", "anyone in patio?")
	lobby := map[string][]shown{
		"alice": {{"bob", "hello alice"}, {"me", "hi bob!"}, {"dave", "hello from long-polling"}, {"bob", "welcome, dave"}},
		"bob":   {{"me", "hello alice"}, {"alice", "hi bob!"}, {"dave", "hello from long-polling"}, {"me", "welcome, dave"}},
		"dave":  {{"me", "hello from long-polling"}, {"bob", "welcome, dave"}},
		"carol": {{"me", "anyone in patio?"}},
	}
	for _, p := range []string{"alice", "bob", "carol", "dave"} {
		b.checkPage(p, lobby[p])
		b.screenshot(p, "chatting")
	}
	if st := b.snapshot("carol"); len(st.Users) != 1 || st.Users[0] != "carol" || st.Typing != "" || len(st.Messages) != 1 {
		t.Errorf("carol's page: %+v; want her alone, with her own message only", st)
	}

	t.Log("the server stops: every page shows the banner")
	srv.stop()
	for _, p := range []string{"alice", "bob", "carol", "dave"} {
		b.waitVisible(p, "#banner", true)
		// The connection closed: the client retries by itself. After
		// "io server disconnect" it would not, and neither would the page.
		b.waitStatus(p, "disconnected (transport close)")
	}
	b.screenshot("alice", "server-down")
	b.screenshot("dave", "server-down")

	t.Log("the server starts again on the same port: the pages reconnect and rejoin")
	srv.start()
	for _, p := range []string{"alice", "bob", "carol", "dave"} {
		b.waitVisible(p, "#banner", false)
	}
	b.waitStatus("alice", "connected over websocket")
	b.waitStatus("bob", "connected over websocket")
	b.waitStatus("dave", "connected over polling")
	for _, p := range []string{"alice", "bob", "dave"} {
		b.waitUsers(p, "alice", "bob", "dave")
	}
	b.waitUsers("carol", "carol")

	t.Log("and they chat again")
	b.send("alice", "we are back")
	b.waitMessage("bob", "alice", "we are back")
	b.waitMessage("dave", "alice", "we are back")
	b.typeText("dave", "me t")
	b.waitTyping("alice", "dave is typing...")
	b.send("dave", "polling is back too")
	b.waitMessage("alice", "dave", "polling is back too")
	b.waitMessage("bob", "dave", "polling is back too")
	b.send("carol", "still alone")
	lobby["alice"] = append(lobby["alice"], shown{"me", "we are back"}, shown{"dave", "polling is back too"})
	lobby["bob"] = append(lobby["bob"], shown{"alice", "we are back"}, shown{"dave", "polling is back too"})
	lobby["dave"] = append(lobby["dave"], shown{"alice", "we are back"}, shown{"me", "polling is back too"})
	lobby["carol"] = append(lobby["carol"], shown{"me", "still alone"})
	for _, p := range []string{"alice", "bob", "carol", "dave"} {
		b.checkPage(p, lobby[p])
		b.screenshot(p, "after-restart")
	}

	t.Log("bob moves to patio: lobby sees him leave, patio sees him come")
	b.switchRoom("bob", "patio")
	b.waitUsers("bob", "bob", "carol")
	b.waitUsers("carol", "bob", "carol")
	b.waitText("carol", "#messages", "bob joined")
	for _, p := range []string{"alice", "dave"} {
		b.waitUsers(p, "alice", "dave")
		b.waitText(p, "#messages", "bob left")
	}
	b.send("bob", "hi carol")
	b.waitMessage("carol", "bob", "hi carol")
	b.send("alice", "bye bob")
	b.waitMessage("dave", "alice", "bye bob")
	b.send("bob", "patio is nicer") // a round trip: "bye bob" would have come by now
	b.checkPage("bob", []shown{{"me", "hi carol"}, {"me", "patio is nicer"}})
	b.checkPage("carol", append(lobby["carol"], shown{"bob", "hi carol"}, shown{"bob", "patio is nicer"}))
	b.screenshot("bob", "moved")
	b.screenshot("carol", "bob-came")

	t.Log("the server disconnects patio on purpose: the pages say so, and stay away")
	if err := srv.chat.To("patio").DisconnectSockets(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"bob", "carol"} {
		b.waitStatus(p, "disconnected (io server disconnect)")
		b.waitText(p, "#banner", "Disconnected by the server")
	}
	b.screenshot("carol", "disconnected")
	time.Sleep(time.Second) // a page that reconnected would be back by now
	for _, p := range []string{"bob", "carol"} {
		if st := b.snapshot(p); st.Status != "disconnected (io server disconnect)" || !st.Banner {
			t.Errorf("%s: status %q, banner shown %v; want it disconnected, and saying so", p, st.Status, st.Banner)
		}
	}
	b.checkNoErrors()
}

// browser drives e2e/browser.mjs: named pages of the chat in Chromium.
type browser struct {
	t     *testing.T
	d     *driver
	dir   string    // screenshots
	start time.Time // no message shown is older
}

// startBrowser starts Chromium with an empty screenshot folder for the
// test, e2e/screenshots/<test name>.
func startBrowser(t *testing.T, url string) *browser {
	dir, err := filepath.Abs(filepath.Join(e2eDir, "screenshots", filepath.FromSlash(t.Name())))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", dir)
	d := startDriver(t, "browser.mjs", "--url", url, "--screenshots", dir, "--chromium", chromiumPath())
	return &browser{t: t, d: d, dir: dir, start: time.Now()}
}

func (b *browser) do(cmd, page string, fields map[string]any) map[string]any {
	b.t.Helper()
	if fields == nil {
		fields = map[string]any{}
	}
	fields["page"] = page
	return b.d.call(callTimeout, cmd, fields)
}

// open loads the page, with a query string such as "?transport=polling".
func (b *browser) open(page, query string) {
	b.t.Helper()
	b.do("open", page, map[string]any{"query": query})
}

// login enters the chat as the page's name, in room.
func (b *browser) login(page, room string) {
	b.t.Helper()
	b.do("login", page, map[string]any{"name": page, "room": room})
}

func (b *browser) typeText(page, text string) {
	b.t.Helper()
	b.do("type", page, map[string]any{"text": text})
}

// send sends a message and waits for the server's acknowledgement (✓).
func (b *browser) send(page, text string) {
	b.t.Helper()
	b.do("send", page, map[string]any{"text": text})
}

// switchRoom goes to another room with the header's form.
func (b *browser) switchRoom(page, room string) {
	b.t.Helper()
	b.do("switch", page, map[string]any{"room": room})
}

func (b *browser) waitText(page, selector, text string) {
	b.t.Helper()
	b.do("waitText", page, map[string]any{"selector": selector, "text": text})
}

func (b *browser) waitStatus(page, status string) {
	b.t.Helper()
	b.do("waitText", page, map[string]any{"selector": "#status", "text": status, "exact": true})
}

// waitTyping waits for the typing notice to read text ("" for none).
func (b *browser) waitTyping(page, text string) {
	b.t.Helper()
	b.do("waitText", page, map[string]any{"selector": "#typing", "text": text, "exact": true})
}

func (b *browser) waitVisible(page, selector string, visible bool) {
	b.t.Helper()
	b.do("waitVisible", page, map[string]any{"selector": selector, "visible": visible})
}

func (b *browser) waitMessage(page, who, text string) {
	b.t.Helper()
	b.do("waitMessage", page, map[string]any{"who": who, "text": text})
}

func (b *browser) waitUsers(page string, users ...string) {
	b.t.Helper()
	b.do("waitUsers", page, map[string]any{"users": users})
}

func (b *browser) screenshot(page, name string) {
	b.t.Helper()
	b.do("screenshot", page, map[string]any{"name": name})
}

// pageState is what a page shows (browser.mjs's snapshot).
type pageState struct {
	Login, Chat, Banner bool
	LoginError          string
	Room, Status        string
	Users               []string
	Typing              string
	Messages            []struct {
		Notice string
		Time   string
		Who    string
		Text   string
		Mine   bool
		Tick   string
		ID     string
	}
}

func (b *browser) snapshot(page string) pageState {
	b.t.Helper()
	var st pageState
	decodeJSON(b.t, b.do("snapshot", page, nil)["state"], &st)
	return st
}

// shown is a message as a page shows it: who ("me" for the page's own)
// and the text.
type shown struct{ Who, Text string }

// checkPage checks that the page shows the chat, not the login form, and
// exactly these messages, each once, in order, each with its time; the
// page's own with the server's tick.
func (b *browser) checkPage(page string, want []shown) {
	b.t.Helper()
	st := b.snapshot(page)
	if !st.Chat || st.Login || st.Banner {
		b.t.Errorf("%s: chat shown %v, login form shown %v, banner shown %v; want the chat only", page, st.Chat, st.Login, st.Banner)
	}
	var got []shown
	for _, m := range st.Messages {
		if m.Notice != "" {
			continue
		}
		got = append(got, shown{m.Who, m.Text})
		if !b.sentDuringTest(m.Time) {
			b.t.Errorf("%s: message %+v: want a time, such as 14:05, since the test started", page, m)
		}
		if (m.Who == "me") != m.Mine || m.Mine && m.Tick != "✓" {
			b.t.Errorf("%s: message %+v: mine and ticked ✓ when from me, only then", page, m)
		}
	}
	if !slices.Equal(got, want) {
		b.t.Errorf("%s shows messages\n\t%v\nwant\n\t%v", page, got, want)
	}
}

// sentDuringTest reports whether hhmm, a time as the page shows it (UTC,
// browser.mjs sets it), is a time since the browser started.
func (b *browser) sentDuringTest(hhmm string) bool {
	at, err := time.Parse("15:04", hhmm)
	if err != nil || len(hhmm) != len("15:04") {
		return false
	}
	now := time.Now().UTC()
	at = time.Date(now.Year(), now.Month(), now.Day(), at.Hour(), at.Minute(), 0, 0, time.UTC)
	if at.After(now) { // before midnight, seen after it
		at = at.AddDate(0, 0, -1)
	}
	return !at.Before(b.start.UTC().Truncate(time.Minute))
}

// checkNoTyping checks that the page shows no typing notice for a while.
// Called as another room's notice appears, it would catch a copy shown
// here too, which would come within moments of it.
func (b *browser) checkNoTyping(page string) {
	b.t.Helper()
	for end := time.Now().Add(400 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if st := b.snapshot(page); st.Typing != "" {
			b.t.Errorf("%s: typing notice %q, want none: no one types in %s's room", page, st.Typing, page)
			return
		}
	}
}

// checkNoErrors fails on an uncaught exception in any page, and logs the
// console's errors (a refused connection while the server is down is one).
func (b *browser) checkNoErrors() {
	b.t.Helper()
	for _, e := range b.d.untaken(func(map[string]any) bool { return true }) {
		if e["event"] == "pageerror" {
			b.t.Errorf("%s: uncaught exception: %v", e["page"], e["message"])
		} else {
			b.t.Logf("%s: console %v: %v", e["page"], e["type"], e["text"])
		}
	}
}
