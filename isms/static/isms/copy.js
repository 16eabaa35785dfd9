// Copy buttons: <button data-copy="ID"> copies the text of the element with that id;
// <button data-copy-all="ID"> copies every [data-copy-label] row inside that element as
// "label: value" lines. The button briefly shows its data-copied (or data-failed) text,
// so that the page's language is kept (the strings come from the template).
// navigator.clipboard needs a secure context (HTTPS or localhost); elsewhere a hidden
// textarea and document.execCommand("copy") are used.
(function () {
  function fallback(text) {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.top = "-1000px";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    area.setSelectionRange(0, text.length);
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        return fallback(text);
      });
    }
    return fallback(text);
  }

  function valueOf(el) {
    return el ? el.innerText.replace(/\s+$/, "").replace(/^\s+/, "") : "";
  }

  function allText(container) {
    const lines = [];
    container.querySelectorAll("[data-copy-label]").forEach(function (row) {
      const value = row.querySelector("[data-copy-value]");
      lines.push(row.dataset.copyLabel + ": " + valueOf(value));
    });
    return lines.join("\n");
  }

  function flash(button, ok) {
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = ok ? button.dataset.copied || label : button.dataset.failed || label;
    button.classList.toggle("btn-success", ok);
    button.classList.toggle("btn-danger", !ok);
    clearTimeout(button._copyTimer);
    button._copyTimer = setTimeout(function () {
      button.textContent = label;
      button.classList.remove("btn-success", "btn-danger");
    }, 1500);
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy], [data-copy-all]");
    if (!button) return;
    event.preventDefault();
    let text;
    if (button.dataset.copyAll !== undefined) {
      const container = document.getElementById(button.dataset.copyAll);
      text = container ? allText(container) : "";
    } else if (button.dataset.copyText !== undefined) {
      text = button.dataset.copyText;
    } else {
      text = valueOf(document.getElementById(button.dataset.copy));
    }
    if (!text) {
      flash(button, false);
      return;
    }
    copy(text).then(
      function () {
        flash(button, true);
      },
      function () {
        flash(button, false);
      }
    );
  });
})();
