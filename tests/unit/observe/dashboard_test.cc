// The embedded dashboard: every file the page loads is in the binary with its content type.
#include "observe/dashboard.h"

#include <gtest/gtest.h>

namespace gh::observe {
namespace {

TEST(Dashboard, ThePageIsServedAtTheRootAndUnderDashboard) {
  for (const char* path : {"/", "/dashboard", "/dashboard/", "/dashboard/index.html"}) {
    auto a = dashboard_asset(path);
    ASSERT_TRUE(a.has_value()) << path;
    EXPECT_EQ(a->content_type, "text/html; charset=utf-8");
    EXPECT_NE(a->body.find("<title>Gatehouse dashboard</title>"), std::string_view::npos);
  }
}

TEST(Dashboard, EveryReferencedFileIsEmbedded) {
  const std::string_view page = dashboard_asset("/")->body;
  for (const char* path : {"/dashboard/uPlot.iife.min.js", "/dashboard/uPlot.min.css",
                           "/dashboard/dashboard.js", "/dashboard/dashboard.css"}) {
    EXPECT_NE(page.find(path), std::string_view::npos) << path;
    auto a = dashboard_asset(path);
    ASSERT_TRUE(a.has_value()) << path;
    EXPECT_GT(a->body.size(), 100u) << path;
  }
  EXPECT_EQ(dashboard_asset("/dashboard/uPlot.iife.min.js")->content_type,
            "text/javascript; charset=utf-8");
  EXPECT_EQ(dashboard_asset("/dashboard/uPlot.min.css")->content_type, "text/css; charset=utf-8");
  // uPlot itself, not an empty placeholder.
  EXPECT_NE(dashboard_asset("/dashboard/uPlot.iife.min.js")->body.find("uPlot"),
            std::string_view::npos);
}

TEST(Dashboard, UnknownPathsAreNotServed) {
  for (const char* path : {"", "/dashboard/../etc/passwd", "/dashboard/missing.js", "/v1/status",
                           "/dashboard/index.html/"}) {
    EXPECT_FALSE(dashboard_asset(path).has_value()) << path;
  }
}

}  // namespace
}  // namespace gh::observe
