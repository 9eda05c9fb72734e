// StyleSeek's own page behaviour, named by the components (ui/*.py) instead of inline strings.
window.styleseek = {
  // below 1024 px the Library is a drawer over the page
  toggleLibrary() {
    document.getElementById("library").classList.toggle("open");
  },
  // a weight slider shows its value beside it
  showWeight(slider) {
    slider.nextElementSibling.textContent = (+slider.value).toFixed(2);
    slider.closest(".term-row")?.classList.toggle("negative", +slider.value < 0); // an exclusion looks like one
  },
  // a builder row's remove button: the row goes, the search runs again
  removeTerm(button) {
    const form = button.form;
    button.closest(".term-row").remove();
    if (form) form.requestSubmit();
  },
  // the suggestion panel goes back to the empty placeholder the Suggest button fills (no empty frame left)
  closeSuggestions() {
    document.getElementById("suggestions").outerHTML = '<div id="suggestions"></div>';
  },
  // suggested rows move into the term builder, replacing the description they came from, and search
  useTerms(rows) {
    const form = document.getElementById("search-form");
    document.getElementById("term-builder").open = true;
    const terms = document.getElementById("terms");
    rows.forEach((r) => {
      r.querySelector(".accept-term")?.remove();
      terms.appendChild(r);
    });
    // the description becomes the rows; only its date phrase, a filter, stays in the search box
    document.getElementById("q").value = document.getElementById("suggestions")?.dataset.keep || "";
    form.requestSubmit();
  },
  useTerm(button) {
    styleseek.useTerms([button.closest(".term-row")]);
  },
  useAll() {
    styleseek.useTerms([...document.querySelectorAll("#suggestion-rows .term-row")]);
    styleseek.closeSuggestions();
  },

  // the viewer ----------------------------------------------------------------------------------------
  // the cards of the list the viewer steps through: search results, similar pictures or the timeline
  cards() {
    return [...document.querySelectorAll("#results .result-card")];
  },
  viewerCard(dialog = document.getElementById("preview-dialog")) {
    return dialog && styleseek.cards().find((c) => c.dataset.id === dialog.dataset.id);
  },
  // the next page of the timeline or of the results, asked for now (the viewer came near the end of what is
  // loaded) rather than when its loader scrolls into view behind the viewer; a promise settled once it is
  // in, or null at the end. The timeline's loader is replaced by the page, the results' by the whole list.
  more() {
    const el = document.querySelector("#results .more-pictures");
    if (!el) return null;
    const target = el.getAttribute("hx-target") || el;
    el.loading ??= htmx.ajax("GET", el.getAttribute("hx-get"), { source: el, target, swap: "outerHTML" });
    return el.loading;
  },
  // previous (-1) or next (+1) picture of the list, in the open viewer (which stays open); past the last one
  // loaded, the next page's first
  step(d) {
    const card = styleseek.viewerCard();
    const cards = styleseek.cards();
    const next = card && cards[cards.indexOf(card) + d];
    if (!next) {
      const more = d > 0 && card ? styleseek.more() : null;
      more?.then(() => {
        // still on that picture (its card may be a new one: the results are drawn whole), and the page brought
        // more: on to the next
        const now = styleseek.viewerCard();
        if (now?.dataset.id === card.dataset.id && styleseek.cards().length > cards.length) styleseek.step(d);
      });
      return;
    }
    document.getElementById("preview-modal").focus({ preventScroll: true }); // not on what the swap removes
    const url = next.getAttribute("hx-get") + "&part=dialog";
    htmx.ajax("GET", url, { target: "#preview-dialog", swap: "outerHTML" });
  },
  // a new picture in the viewer: the full rendition replaces the thumbnail once loaded; the buttons know the
  // ends of the list; the address names the picture (pushed once, so Back closes the viewer)
  viewerShown(dialog) {
    const img = dialog.querySelector("#preview-img");
    if (img?.dataset.full) {
      const full = new Image();
      full.onload = () => { img.src = full.src; img.classList.remove("loading"); };
      full.onerror = () => img.classList.remove("loading");
      full.src = img.dataset.full;
    }
    // the swapped-out dialog took the focus with it: keep it in the viewer, so Escape and the arrows still work
    const modal = document.getElementById("preview-modal");
    if (modal && !modal.contains(document.activeElement)) modal.focus({ preventScroll: true });
    const cards = styleseek.cards();
    const i = cards.indexOf(styleseek.viewerCard(dialog));
    dialog.querySelector(".viewer-prev").disabled = i <= 0;
    const more = document.querySelector("#results .more-pictures");
    dialog.querySelector(".viewer-next").disabled = i < 0 || (i >= cards.length - 1 && !more);
    if (more && i >= cards.length - 3) styleseek.more(); // near the end: the next page comes before it is wanted
    const url = new URL(location.href);
    const had = url.searchParams.has("view");
    url.searchParams.set("view", dialog.dataset.id);
    if (styleseek.viewEntry || had) history.replaceState({ styleseekView: dialog.dataset.id }, "", url);
    else {
      history.pushState({ styleseekView: dialog.dataset.id }, "", url);
      styleseek.viewEntry = true;
    }
  },
  // the viewer closed: the address forgets the picture, and focus goes back to its card
  viewerClosed(modal) {
    const id = modal.querySelector("#preview-dialog")?.dataset.id;
    if (styleseek.viewEntry) {
      styleseek.viewEntry = false;
      styleseek.ignorePop = true;
      history.back();
    } else if (new URL(location.href).searchParams.has("view")) {
      const url = new URL(location.href);
      url.searchParams.delete("view");
      history.replaceState(history.state, "", url);
    }
    styleseek.cards().find((c) => c.dataset.id === id)?.focus();
  },
  viewerOpen() {
    return document.querySelector("#preview-modal.uk-open");
  },

  // searching with pictures -------------------------------------------------------------------------------
  // a results box clicked: shift-click selects the range from the last one clicked
  pick(e, box) {
    const boxes = [...document.querySelectorAll("#results .pick")];
    const last = boxes.indexOf(styleseek.lastPick);
    if (e.shiftKey && last >= 0) {
      const [lo, hi] = [last, boxes.indexOf(box)].sort((a, b) => a - b);
      boxes.slice(lo, hi + 1).forEach((b) => (b.checked = box.checked));
    }
    styleseek.lastPick = box;
    styleseek.showPicks();
  },
  picks() {
    return [...document.querySelectorAll("#results .pick:checked")];
  },
  showPicks() {
    const n = styleseek.picks().length;
    if (!document.getElementById("selection-bar")) return;
    document.getElementById("selection-bar").hidden = n === 0;
    document.getElementById("selection-count").textContent = `${n} selected`;
    document.body.classList.toggle("picking", n > 0);
  },
  clearPicks() {
    styleseek.picks().forEach((b) => (b.checked = false));
    styleseek.showPicks();
  },
  // the selected results become picture rows of the term builder, for (1) or against (-1), each with its
  // weight slider, and the search runs
  async likeSelected(sign) {
    const ids = styleseek.picks().map((b) => b.dataset.id);
    if (!ids.length) return;
    styleseek.clearPicks();
    document.getElementById("term-builder").open = true;
    for (const id of ids) {
      const url = `/term_row?text=%23${id}&target=image&weight=${sign}`;
      await htmx.ajax("GET", url, { target: "#terms", swap: "beforeend" });
    }
    document.getElementById("search-form").requestSubmit();
  },
  // a picture dropped, pasted or picked: embedded on the server (its vectors kept, not the picture), then searched by
  async searchByPicture(file) {
    const status = document.getElementById("picture-status");
    if (!file) return;
    status.textContent = `Reading ${file.name || "the picture"}…`;
    status.classList.remove("text-red-700");
    const body = new FormData();
    body.append("file", file, file.name || "pasted.png");
    try {
      const r = await fetch("/picture", { method: "POST", body, headers: { "HX-Request": "true" } });
      if (!r.ok) throw new Error(new DOMParser().parseFromString(await r.text(), "text/html").body.textContent.trim());
      const { ref } = await r.json();
      status.textContent = "";
      document.getElementById("q").value = `like: ${ref}`;
      document.getElementById("search-form").requestSubmit();
    } catch (err) {
      status.textContent = err.message || "The picture could not be read.";
      status.classList.add("text-red-700");
    }
  },
};

// the search form shows what the address says: after Back or Forward (htmx restores the results, not what the
// fields held) and after Find similar (a list of pictures like one, not of the text still in the box)
styleseek.syncForm = () => {
  const form = document.getElementById("search-form");
  if (!form) return;
  const params = new URL(location.href).searchParams;
  form.querySelector("#q").value = params.get("q") || "";
  if (location.pathname === "/similar") return; // its parameters are not the form's
  for (const el of form.querySelectorAll("input[name], select[name]")) {
    if (el.id === "q" || el.closest(".term-row") || el.type === "file") continue;
    if (el.type === "checkbox") el.checked = params.getAll(el.name).some((v) => [el.value, "on", "true"].includes(v));
    else if (params.has(el.name)) el.value = params.get(el.name);
  }
};
document.addEventListener("htmx:historyRestore", styleseek.syncForm);
document.addEventListener("htmx:afterSettle", (e) => {
  if (e.detail.requestConfig?.path?.startsWith("/similar")) styleseek.syncForm();
});
// a new list of results: nothing is selected in it
document.addEventListener("htmx:afterSwap", (e) => {
  if (e.detail.target?.id === "results" || e.detail.elt?.id === "results") styleseek.showPicks();
});
// drop a picture anywhere on the page; paste one (when the focus is not in a text field with text to paste)
const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes("Files");
document.addEventListener("dragover", (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  document.getElementById("drop-overlay").hidden = false;
});
document.addEventListener("dragleave", (e) => {
  if (e.target.id === "drop-overlay" || !e.relatedTarget) document.getElementById("drop-overlay").hidden = true;
});
document.addEventListener("drop", (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  document.getElementById("drop-overlay").hidden = true;
  styleseek.searchByPicture(e.dataTransfer.files[0]);
});
document.addEventListener("paste", (e) => {
  const file = [...(e.clipboardData?.files || [])].find((f) => f.type.startsWith("image/"));
  if (!file) return;
  e.preventDefault();
  styleseek.searchByPicture(file);
});

document.addEventListener("htmx:load", (e) => {
  if (!e.detail.elt) return;
  const dialog = e.detail.elt.id === "preview-dialog" ? e.detail.elt : e.detail.elt.querySelector?.("#preview-dialog");
  if (!dialog) return;
  styleseek.viewerShown(dialog);
  // a page that came with the viewer in it (a link naming a picture): the modal's own load handler only
  // runs for content htmx swaps in, so open it here, and take the focus from the search box's autofocus (the
  // arrow keys went to the box, not to the viewer)
  if (e.detail.elt !== document.body) return;
  const focus = () => {
    const modal = document.getElementById("preview-modal");
    if (modal && !modal.contains(document.activeElement)) modal.focus({ preventScroll: true });
  };
  UIkit.modal("#preview-modal").show().then(focus);
});
// Find similar from the viewer pushes a page of its own: the entry that only named the picture becomes the
// results it was opened from again (htmx's, so Back restores them)
document.addEventListener("htmx:beforeRequest", (e) => {
  if (!styleseek.viewEntry || !e.detail.elt.closest?.("#preview-modal [hx-push-url]")) return;
  styleseek.viewEntry = false;
  const url = new URL(location.href);
  url.searchParams.delete("view");
  history.replaceState({ htmx: true }, "", url);
});
// UIkit's "hidden" bubbles from the modal; the modal then removes itself (hx-on:hidden)
document.addEventListener("hidden", (e) => {
  if (e.target.id === "preview-modal") styleseek.viewerClosed(e.target);
});
// Back while the viewer is open closes it. Registered before htmx's own handler (htmx sets it up once the
// document has loaded), so htmx does not restore a page for a history entry that only named a picture.
window.addEventListener("popstate", (e) => {
  if (styleseek.ignorePop) {
    styleseek.ignorePop = false;
    e.stopImmediatePropagation();
  } else if (styleseek.viewEntry && styleseek.viewerOpen()) {
    styleseek.viewEntry = false;
    e.stopImmediatePropagation();
    UIkit.modal("#preview-modal").hide();
  }
});
document.addEventListener("keydown", (e) => {
  if (!styleseek.viewerOpen() || e.target.closest?.("input, textarea, select")) return;
  if (e.key === "ArrowLeft") styleseek.step(-1);
  if (e.key === "ArrowRight") styleseek.step(1);
});
// a horizontal swipe over the picture steps, as in a phone's gallery
let swipe = null;
document.addEventListener("touchstart", (e) => {
  swipe = e.target.closest?.(".viewer-picture") ? { x: e.touches[0].clientX, y: e.touches[0].clientY } : null;
}, { passive: true });
document.addEventListener("touchend", (e) => {
  if (!swipe) return;
  const dx = e.changedTouches[0].clientX - swipe.x;
  const dy = e.changedTouches[0].clientY - swipe.y;
  swipe = null;
  if (Math.abs(dx) > 50 && Math.abs(dx) > 1.5 * Math.abs(dy)) styleseek.step(dx < 0 ? 1 : -1);
});

// while a suggestion is being made, the seconds since the request began, so a long wait visibly moves
document.addEventListener("htmx:beforeRequest", (e) => {
  if (!e.detail.elt.matches("#suggest-button, #more-like")) return;
  const t0 = Date.now();
  const box = document.getElementById("suggest-progress");
  const out = document.getElementById("suggest-elapsed");
  out.textContent = "";
  const timer = setInterval(() => {
    if (!box.classList.contains("htmx-request")) clearInterval(timer);
    else out.textContent = Math.round((Date.now() - t0) / 1000) + " s";
  }, 1000);
});
